//! A small Redis client (RESP2 over TCP) for the lease store: enough for `EVAL`, `AUTH`,
//! `SELECT`, `GET` and `PING`. One connection, commands serialised, reconnected after an error.

use crate::error::{Error, ErrorKind, Result};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A reply.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    Nil,
    Int(i64),
    Bytes(Vec<u8>),
    Status(String),
    Array(Vec<Reply>),
}

/// Where to connect: `redis://[user:password@]host:port[/db]` (`rediss` is refused: no TLS here).
#[derive(Clone, Debug)]
pub(crate) struct Target {
    addr: String,
    user: Option<String>,
    password: Option<String>,
    db: Option<u32>,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target> {
        let bad = |why: &str| Error::config(format!("redis URL {url:?}: {why}"));
        let rest =
            url.strip_prefix("redis://").ok_or_else(|| bad("must start with redis:// (TLS is not supported)"))?;
        let (auth, rest) = match rest.rsplit_once('@') {
            Some((a, r)) => (Some(a), r),
            None => (None, rest),
        };
        let (hostport, db) = match rest.split_once('/') {
            Some((h, "")) => (h, None),
            Some((h, d)) => (h, Some(d.parse::<u32>().map_err(|_| bad("the database must be a number"))?)),
            None => (rest, None),
        };
        if hostport.is_empty() {
            return Err(bad("no host"));
        }
        let addr = if hostport.contains(':') { hostport.to_owned() } else { format!("{hostport}:6379") };
        let (user, password) = match auth {
            None => (None, None),
            Some(a) => match a.split_once(':') {
                Some(("", p)) => (None, Some(p.to_owned())),
                Some((u, p)) => (Some(u.to_owned()), Some(p.to_owned())),
                None => (None, Some(a.to_owned())),
            },
        };
        Ok(Target { addr, user, password, db })
    }
}

struct Conn {
    io: BufReader<TcpStream>,
}

/// A Redis connection that reconnects on the next command after a failure.
pub(crate) struct Redis {
    target: Target,
    conn: tokio::sync::Mutex<Option<Conn>>,
    timeout: Duration,
}

/// The longest bulk reply accepted (the lease store's replies are tiny).
const MAX_BULK: i64 = 1 << 20;

impl Redis {
    pub fn new(target: Target, timeout: Duration) -> Redis {
        Redis { target, conn: tokio::sync::Mutex::new(None), timeout }
    }

    /// Runs one command; an I/O or protocol failure drops the connection and fails typed.
    /// Cancel-safe: the connection is out of the slot during the round trip and goes back only
    /// after a whole reply, so a command dropped half-way (a task aborted, a timeout) can never
    /// leave its reply to be read by the next command.
    pub async fn cmd(&self, args: &[&[u8]]) -> Result<Reply> {
        let mut guard = self.conn.lock().await;
        let taken = guard.take();
        let work = async {
            let mut c = match taken {
                Some(c) => c,
                None => self.connect().await?,
            };
            let r = roundtrip(&mut c, args).await?;
            Ok::<_, Error>((c, r))
        };
        let r = match tokio::time::timeout(self.timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!("redis at {}: no reply within {:?}", self.target.addr, self.timeout),
            )),
        };
        let (c, reply) = r?;
        *guard = Some(c);
        match reply {
            Reply::Status(s) if s.starts_with('-') => Err(redis_error(&self.target.addr, &s[1..])),
            r => Ok(r),
        }
    }

    async fn connect(&self) -> Result<Conn> {
        let s = TcpStream::connect(&self.target.addr)
            .await
            .map_err(|e| Error::new(ErrorKind::Connect, format!("redis at {}: {e}", self.target.addr)))?;
        let _ = s.set_nodelay(true);
        let mut c = Conn { io: BufReader::new(s) };
        if let Some(p) = &self.target.password {
            let r = match &self.target.user {
                Some(u) => roundtrip(&mut c, &[b"AUTH", u.as_bytes(), p.as_bytes()]).await?,
                None => roundtrip(&mut c, &[b"AUTH", p.as_bytes()]).await?,
            };
            check_ok(&self.target.addr, r)?;
        }
        if let Some(db) = self.target.db {
            let r = roundtrip(&mut c, &[b"SELECT", db.to_string().as_bytes()]).await?;
            check_ok(&self.target.addr, r)?;
        }
        Ok(c)
    }
}

fn redis_error(addr: &str, msg: &str) -> Error {
    Error::new(ErrorKind::Rpc, format!("redis at {addr}: {msg}"))
}

fn check_ok(addr: &str, r: Reply) -> Result<()> {
    match r {
        Reply::Status(s) if s.starts_with('-') => Err(redis_error(addr, &s[1..])),
        _ => Ok(()),
    }
}

async fn roundtrip(c: &mut Conn, args: &[&[u8]]) -> Result<Reply> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    c.io.get_mut().write_all(&out).await.map_err(|e| Error::io("redis", e))?;
    read_reply(&mut c.io).await
}

/// Reads one reply. An error reply comes back as `Status("-…")` so the caller can tell it
/// from a broken connection.
fn read_reply<'a, R: tokio::io::AsyncBufRead + Unpin + Send>(
    r: &'a mut R,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Reply>> + Send + 'a>> {
    Box::pin(async move {
        let mut line = String::new();
        let n = r.read_line(&mut line).await.map_err(|e| Error::io("redis", e))?;
        if n == 0 {
            return Err(Error::closed("redis closed the connection"));
        }
        let line = line.strip_suffix("\r\n").ok_or_else(|| Error::protocol("redis: a reply line without CRLF"))?;
        let (kind, rest) = line.split_at(1.min(line.len()));
        let int = || rest.parse::<i64>().map_err(|_| Error::protocol(format!("redis: bad number {rest:?}")));
        match kind {
            "+" => Ok(Reply::Status(rest.to_owned())),
            "-" => Ok(Reply::Status(format!("-{rest}"))),
            ":" => Ok(Reply::Int(int()?)),
            "$" => {
                let len = int()?;
                if len < 0 {
                    return Ok(Reply::Nil);
                }
                if len > MAX_BULK {
                    return Err(Error::protocol(format!("redis: a {len}-byte reply is over the limit")));
                }
                let mut buf = vec![0; len as usize + 2];
                r.read_exact(&mut buf).await.map_err(|e| Error::io("redis", e))?;
                if !buf.ends_with(b"\r\n") {
                    return Err(Error::protocol("redis: a bulk reply without CRLF"));
                }
                buf.truncate(len as usize);
                Ok(Reply::Bytes(buf))
            }
            "*" => {
                let len = int()?;
                if len < 0 {
                    return Ok(Reply::Nil);
                }
                if len > 1024 {
                    return Err(Error::protocol(format!("redis: a {len}-element reply is over the limit")));
                }
                let mut items = Vec::with_capacity(len as usize);
                for _ in 0..len {
                    items.push(read_reply(r).await?);
                }
                Ok(Reply::Array(items))
            }
            _ => Err(Error::protocol(format!("redis: unexpected reply {line:?}"))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(bytes: &[u8]) -> Result<Reply> {
        let mut r = BufReader::new(bytes);
        read_reply(&mut r).await
    }

    #[tokio::test]
    async fn replies() {
        assert_eq!(parse(b"+OK\r\n").await.unwrap(), Reply::Status("OK".into()));
        assert_eq!(parse(b":42\r\n").await.unwrap(), Reply::Int(42));
        assert_eq!(parse(b"$-1\r\n").await.unwrap(), Reply::Nil);
        assert_eq!(parse(b"$3\r\nabc\r\n").await.unwrap(), Reply::Bytes(b"abc".to_vec()));
        assert_eq!(
            parse(b"*2\r\n:1\r\n$1\r\nx\r\n").await.unwrap(),
            Reply::Array(vec![Reply::Int(1), Reply::Bytes(b"x".to_vec())])
        );
        assert_eq!(parse(b"-ERR nope\r\n").await.unwrap(), Reply::Status("-ERR nope".into()));
        for bad in [&b"?x\r\n"[..], b":x\r\n", b"$3\r\nabcd\r\n", b"+OK\n", b"$99999999\r\n", b""] {
            assert!(parse(bad).await.is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn urls() {
        let t = Target::parse("redis://127.0.0.1:6380/2").unwrap();
        assert_eq!((t.addr.as_str(), t.db), ("127.0.0.1:6380", Some(2)));
        let t = Target::parse("redis://:pw@h").unwrap();
        assert_eq!((t.addr.as_str(), t.password.as_deref(), t.user), ("h:6379", Some("pw"), None));
        let t = Target::parse("redis://u:pw@h:1/").unwrap();
        assert_eq!((t.user.as_deref(), t.db), (Some("u"), None));
        for bad in ["rediss://h", "h:6379", "redis://", "redis://h/x"] {
            assert_eq!(Target::parse(bad).unwrap_err().kind(), ErrorKind::InvalidConfig, "{bad}");
        }
    }
}
