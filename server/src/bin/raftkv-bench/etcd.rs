//! The same closed loop against etcd through its HTTP/JSON gateway (`POST /v3/kv/put`), for a
//! like-for-like comparison: one keep-alive connection per client, a tiny HTTP/1.1 client, base64 keys.

use crate::load::{Load, Putter};
use crate::Args;
use anyhow::{bail, Context as _};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Runs every client count of `args` against the etcd at `endpoint` (`http://host:port`).
pub async fn bench_etcd(args: &Args, endpoint: &str) -> anyhow::Result<()> {
    let host = endpoint
        .strip_prefix("http://")
        .context("--etcd takes an http:// endpoint")?
        .trim_end_matches('/')
        .to_string();
    let value = base64(&vec![b'v'; args.value_size]);
    for (run, &clients) in args.clients.iter().enumerate() {
        let load = Load {
            clients,
            warmup: Duration::from_secs(args.warmup_secs),
            measured: Duration::from_secs(args.duration_secs),
            puts_max: None,
        };
        let stats = load
            .run(|c| EtcdPutter {
                host: host.clone(),
                value: value.clone(),
                prefix: format!("r{run}-c{c}"),
                connection: None,
            })
            .await?;
        stats.print("etcd", clients, load.measured);
    }
    Ok(())
}

/// One etcd client: a keep-alive connection (made on first use, remade after an error) writing
/// `<prefix>-<n>`.
struct EtcdPutter {
    host: String,
    value: String,
    prefix: String,
    connection: Option<HttpConnection>,
}

impl Putter for EtcdPutter {
    async fn put(&mut self, n: u64) -> anyhow::Result<bool> {
        let connection = match &mut self.connection {
            Some(connection) => connection,
            None => self
                .connection
                .insert(HttpConnection::connect(&self.host).await?),
        };
        let key = base64(format!("{}-{n}", self.prefix).as_bytes());
        let body = format!(r#"{{"key":"{key}","value":"{}"}}"#, self.value);
        match connection.post("/v3/kv/put", &body).await {
            Ok(status) => Ok(status == 200),
            Err(_) => {
                self.connection = None;
                Ok(false)
            }
        }
    }
}

/// Longest response header section or body accepted from etcd.
const HTTP_RESPONSE_BYTES_MAX: usize = 1 << 20;

/// A minimal HTTP/1.1 keep-alive client: POST with a JSON body, read status and body.
struct HttpConnection {
    host: String,
    stream: BufReader<TcpStream>,
}

impl HttpConnection {
    async fn connect(host: &str) -> anyhow::Result<HttpConnection> {
        let stream = TcpStream::connect(host)
            .await
            .with_context(|| format!("connect to {host}"))?;
        stream.set_nodelay(true)?;
        Ok(HttpConnection {
            host: host.to_string(),
            stream: BufReader::new(stream),
        })
    }

    /// Sends one request and returns the status code (the body is read and discarded).
    async fn post(&mut self, path: &str, body: &str) -> anyhow::Result<u16> {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.stream.get_mut().write_all(request.as_bytes()).await?;
        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {line:?}"))?;
        let mut content_length = None;
        let mut chunked = false;
        let mut header_bytes = 0;
        loop {
            line.clear();
            header_bytes += self.stream.read_line(&mut line).await?;
            if header_bytes > HTTP_RESPONSE_BYTES_MAX {
                bail!("response headers too long");
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let lower = header.to_ascii_lowercase();
            if let Some(value) = lower.strip_prefix("content-length:") {
                content_length = Some(value.trim().parse::<usize>()?);
            } else if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        if chunked {
            loop {
                line.clear();
                self.stream.read_line(&mut line).await?;
                let size = usize::from_str_radix(line.trim(), 16)?;
                self.discard(size + 2).await?; // chunk and its CRLF
                if size == 0 {
                    break;
                }
            }
        } else {
            self.discard(content_length.context("no content length")?)
                .await?;
        }
        Ok(status)
    }

    async fn discard(&mut self, bytes: usize) -> anyhow::Result<()> {
        if bytes > HTTP_RESPONSE_BYTES_MAX {
            bail!("response body too long");
        }
        let mut buffer = vec![0; bytes];
        self.stream.read_exact(&mut buffer).await?;
        Ok(())
    }
}

/// Standard base64 with padding (what etcd's JSON gateway expects for bytes fields).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, expected) in cases {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }
}
