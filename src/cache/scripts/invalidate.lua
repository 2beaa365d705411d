-- KEYS[1] = the invalidation sequence, KEYS[2..] = entries; ARGV[1] = tombstone TTL (ms).
-- One atomic step: take the next number and leave `\0tomb<number>` in every entry.
local seq = redis.call('INCR', KEYS[1])
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], '\0tomb' .. seq, 'PX', ARGV[1])
end
return seq
