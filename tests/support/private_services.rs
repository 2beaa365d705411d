//! Private PostgreSQL clusters and Redis servers for tests that inject faults into them (stop,
//! crash, hold a commit's answer, SIGSTOP), so that the shared services the other tests use are
//! never touched. A cluster is Debian's PostgreSQL 15 (`initdb` as the `postgres` user, `pg_ctl`
//! on a free loopback port, sockets in its own directory); a Redis is `redis-server` on a free
//! port with no persistence. Both are stopped and removed on drop.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's PostgreSQL 15 server programs live (`PG_BINDIR` overrides).
fn pg_bin(name: &str) -> PathBuf {
    let dir = std::env::var("PG_BINDIR").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into());
    Path::new(&dir).join(name)
}

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Runs `program args` as the `postgres` user when we are root (PostgreSQL refuses to run as
/// root), else as ourselves.
fn as_postgres(program: &Path, args: &[&str]) -> Command {
    let root = nix_is_root();
    let mut cmd = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args);
    cmd
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A PostgreSQL cluster of its own: superuser `postgres` and a login role `bookstore` (password
/// `bookstore`, owner of database `bookstore`), both reachable over TCP on `port`.
pub struct PgCluster {
    pub dir: PathBuf,
    pub port: u16,
}

impl PgCluster {
    /// `initdb`, start, and create the `bookstore` role and database.
    pub fn start() -> PgCluster {
        let dir =
            std::env::temp_dir().join(format!("bookstore-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("cluster dir");
        if nix_is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.arg("postgres:postgres").arg(&dir);
                    c
                },
                "chown the cluster directory",
            );
        }
        let data = dir.join("data");
        let data_s = data.to_str().unwrap().to_owned();
        run(
            as_postgres(
                &pg_bin("initdb"),
                &[
                    "-D",
                    &data_s,
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ],
            ),
            "initdb",
        );
        let cluster = PgCluster {
            dir,
            port: free_port(),
        };
        let conf = format!(
            "port = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             fsync = off\nmax_connections = 200\nwal_level = replica\nmax_wal_senders = 4\n\
             hot_standby = on\n",
            cluster.port,
            cluster.dir.display()
        );
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .expect("postgresql.conf");
        std::io::Write::write_all(&mut f, conf.as_bytes()).expect("write postgresql.conf");
        cluster.pg_ctl_start();
        cluster.psql("CREATE ROLE bookstore LOGIN PASSWORD 'bookstore'");
        cluster.psql("CREATE DATABASE bookstore OWNER bookstore");
        cluster
    }

    fn data(&self) -> String {
        self.dir.join("data").to_str().unwrap().to_owned()
    }

    fn pg_ctl_start(&self) {
        let log = self.dir.join("server.log");
        run(
            as_postgres(
                &pg_bin("pg_ctl"),
                &[
                    "-D",
                    &self.data(),
                    "-l",
                    log.to_str().unwrap(),
                    "-w",
                    "start",
                ],
            ),
            "pg_ctl start",
        );
    }

    /// Starts a cluster stopped by [`PgCluster::stop`] again, on the same port.
    pub fn restart(&self) {
        self.pg_ctl_start();
    }

    /// `pg_ctl stop -m immediate`: a crash as far as clients can tell.
    pub fn stop_immediate(&self) {
        run(
            as_postgres(
                &pg_bin("pg_ctl"),
                &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
            ),
            "pg_ctl stop -m immediate",
        );
    }

    /// A clean stop (`-m fast`).
    pub fn stop(&self) {
        run(
            as_postgres(
                &pg_bin("pg_ctl"),
                &["-D", &self.data(), "-m", "fast", "-w", "stop"],
            ),
            "pg_ctl stop",
        );
    }

    /// The URL of `database` as the `bookstore` role.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://bookstore:bookstore@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// The URL of `database` as the superuser.
    pub fn superuser_url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Runs `sql` as the superuser in database `postgres` with psql; its output (tuples only).
    pub fn psql(&self, sql: &str) -> String {
        self.psql_in("postgres", sql)
    }

    pub fn psql_in(&self, database: &str, sql: &str) -> String {
        let out = Command::new(pg_bin("psql"))
            .args([
                "-X",
                "-q",
                "-t",
                "-A",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                sql,
            ])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = as_postgres(
            &pg_bin("pg_ctl"),
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `redis-server` of its own on a free loopback port, without persistence.
pub struct RedisServer {
    pub port: u16,
    child: Child,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (installed by scripts/services.sh)");
        let server = RedisServer { port, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// SIGSTOP: the server keeps its sockets open and answers nothing (a hung Redis).
    pub fn hang(&self) {
        signal(self.pid(), "STOP");
    }

    /// SIGCONT after [`RedisServer::hang`].
    pub fn resume(&self) {
        signal(self.pid(), "CONT");
    }

    /// SIGKILL: connections are reset, nothing listens any more.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: i32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{name} {pid}");
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        signal_quiet(self.pid(), "CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal_quiet(pid: i32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}
