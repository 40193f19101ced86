//! Test harness: runs the real `albless-whoami` binary on port 0 and speaks raw HTTP/1.1 to it
//! over `std::net::TcpStream`, so the tests see exactly the bytes a client would.
//!
//! Known limits: the reply reader understands `Content-Length` bodies only, which is all
//! whoami sends.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Longest wait for any single read from the server or the process.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `albless-whoami`, killed when dropped.
pub struct Whoami {
    child: Child,
    stderr: BufReader<ChildStderr>,
    /// The address from the start line.
    pub addr: SocketAddr,
}

/// The binary under test, with a clean environment so the outer one cannot leak in.
pub fn command(envs: &[(&str, &str)], args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_albless-whoami"));
    command
        .env_clear()
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .envs(envs.iter().copied());
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

impl Whoami {
    /// Starts on 127.0.0.1 port 0 (unless `envs`/`args` say otherwise), reads the start line.
    pub fn start(envs: &[(&str, &str)], args: &[&str]) -> Self {
        let mut child = command(envs, args).spawn().expect("spawn albless-whoami");
        let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
        let mut line = String::new();
        stderr.read_line(&mut line).expect("read the start line");
        let addr = line
            .trim_end()
            .strip_prefix("albless-whoami listening on ")
            .unwrap_or_else(|| panic!("unexpected start line {line:?}"))
            .parse()
            .expect("start line ends with IP:PORT");
        Self {
            child,
            stderr,
            addr,
        }
    }

    /// The process id, as the answer reports it.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next stderr line, without its newline.
    pub fn next_log_line(&mut self) -> String {
        let mut line = String::new();
        self.stderr.read_line(&mut line).expect("read stderr");
        line.trim_end().to_owned()
    }

    /// Sends a signal by name (`TERM`, `INT`) with the `kill` command.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args(["-s", name, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s {name} failed");
    }

    /// Waits for the process to exit, failing the test after `within`.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "albless-whoami still running after {within:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything written to stderr after the lines already read; call after exit.
    pub fn rest_of_stderr(&mut self) -> String {
        let mut rest = String::new();
        self.stderr.read_to_string(&mut rest).expect("read stderr");
        rest
    }
}

impl Drop for Whoami {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let found = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name));
        found.map(|(_, value)| value.as_str())
    }

    /// The body as JSON, failing the test if it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// A keep-alive HTTP/1.1 connection.
pub struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        Self {
            reader: BufReader::new(stream),
        }
    }

    /// The client end's address, which the server reports as `remote_addr`.
    pub fn local_addr(&self) -> SocketAddr {
        self.reader.get_ref().local_addr().unwrap()
    }

    /// Writes one request; `Host` is added first, `Content-Length` when there is a body.
    pub fn send(&mut self, method: &str, target: &str, headers: &[(&str, &str)], body: &str) {
        let addr = self.reader.get_ref().peer_addr().unwrap();
        let mut request = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() {
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        request.push_str(body);
        self.reader
            .get_mut()
            .write_all(request.as_bytes())
            .expect("write request");
    }

    /// Reads one response with a `Content-Length` body.
    pub fn receive(&mut self) -> Reply {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read status line");
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {line:?}"));

        let mut headers = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).expect("read header");
            let Some((name, value)) = line.trim_end().split_once(':') else {
                break;
            };
            headers.push((name.to_owned(), value.trim().to_owned()));
        }

        let mut reply = Reply {
            status,
            headers,
            body: String::new(),
        };
        let length: usize = reply
            .header("content-length")
            .map_or(0, |v| v.parse().unwrap());
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).expect("read body");
        reply.body = String::from_utf8(body).expect("UTF-8 body");
        reply
    }

    /// True when the server has closed the connection (end of stream).
    pub fn is_closed(&mut self) -> bool {
        matches!(self.reader.fill_buf(), Ok([]) | Err(_))
    }
}

/// One request on a fresh connection.
pub fn request(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> Reply {
    let mut conn = Conn::open(addr);
    conn.send(method, target, headers, "");
    conn.receive()
}

/// `GET target` with `Accept: application/json`, answered as JSON.
pub fn get_json(addr: SocketAddr, target: &str) -> serde_json::Value {
    let reply = request(addr, "GET", target, &[("Accept", "application/json")]);
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()
}
