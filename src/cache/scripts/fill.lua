-- KEYS = entries; ARGV[1] = TTL (ms), ARGV[2] = the reader's snapshot, ARGV[2 + i] = value i.
-- Writes where there is nothing, or a tombstone numbered at most the snapshot.
local snap = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  local cur = redis.call('GET', key)
  local ok = not cur
  if cur and string.sub(cur, 1, 5) == '\0tomb' then
    ok = (tonumber(string.sub(cur, 6)) or 0) <= snap
  end
  if ok then
    redis.call('SET', key, ARGV[2 + i], 'PX', ARGV[1])
  end
end
return 1
