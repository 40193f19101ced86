//! The DNS server that answers for the registry's namespaces, as the VPC resolver answers
//! for a Cloud Map private DNS namespace (aws-behavior.md §3.6).
//!
//! [`DnsServer`] listens on UDP and TCP on one port and answers from
//! [`Registry::snapshot`] at query time, so a registration is visible on the next query.
//! What a name resolves to is decided in [`answer`]; this module only decodes the
//! question, handles the header and EDNS, and sends the reply through hickory-server,
//! which also truncates UDP replies that do not fit (TC bit) so clients retry over TCP.
//!
//! Known limits: the server is authoritative-only (no recursion: names outside every
//! namespace are REFUSED, HTTP namespaces included); no DNSSEC, zone transfers or
//! dynamic updates. hickory sets TC whenever any section is cut, even
//! when only additional records (SRV targets' addresses) are left out, where RFC 2181 §9
//! would let the reply go out untruncated; the client then simply asks again over TCP.
//! hickory-server also logs one INFO line per request under its own target.

mod answer;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::DNSClass;
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tokio::net::{TcpListener, UdpSocket};
use tracing::{debug, info, warn};

use crate::Registry;

/// How often [`DnsServer::bind`] tries a fresh UDP port when TCP's twin is taken.
const BIND_ATTEMPTS: usize = 8;

/// A TCP connection that sends no query for this long is closed (RFC 7766 §6.2.3
/// suggests seconds, not minutes, for an idle client).
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Replies queued per TCP connection before the server waits for the client to read.
const TCP_RESPONSE_BUFFER: usize = 32;

/// The EDNS version this server speaks (RFC 6891 §6.1.3).
const EDNS_VERSION: u8 = 0;

/// A DNS server for the namespaces of one [`Registry`], bound and ready to serve.
pub struct DnsServer {
    registry: Registry,
    udp: UdpSocket,
    tcp: TcpListener,
}

impl DnsServer {
    /// Binds UDP and TCP on `addr` (the same port on both; with port 0, bind UDP on port
    /// 0, then TCP on the port UDP got, retrying with a fresh UDP port a few times if
    /// TCP's is taken).
    ///
    /// Fails with the bind error, or with `AddrInUse` when no free pair was found.
    pub async fn bind(registry: Registry, addr: SocketAddr) -> io::Result<DnsServer> {
        if addr.port() != 0 {
            let udp = UdpSocket::bind(addr).await?;
            let tcp = TcpListener::bind(addr).await?;
            return Ok(Self::bound(registry, udp, tcp));
        }
        let mut last_error = None;
        for _ in 0..BIND_ATTEMPTS {
            let udp = UdpSocket::bind(addr).await?;
            match TcpListener::bind(udp.local_addr()?).await {
                Ok(tcp) => return Ok(Self::bound(registry, udp, tcp)),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => last_error = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or_else(|| io::ErrorKind::AddrInUse.into()))
    }

    fn bound(registry: Registry, udp: UdpSocket, tcp: TcpListener) -> DnsServer {
        let server = DnsServer { registry, udp, tcp };
        info!(addr = %server.local_addr(), "dns server bound");
        server
    }

    /// The bound address (same port for UDP and TCP).
    pub fn local_addr(&self) -> SocketAddr {
        // Both sockets are bound, so this cannot fail; the TCP address is the same.
        self.udp.local_addr().unwrap_or_else(|_| {
            self.tcp
                .local_addr()
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
        })
    }

    /// Serves until the future is dropped (or the process ends).
    ///
    /// Fails only when a socket stops working.
    pub async fn run(self) -> io::Result<()> {
        let mut server = Server::new(Handler {
            registry: self.registry,
        });
        server.register_socket(self.udp);
        server.register_listener(self.tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_BUFFER);
        // Dropping this future drops `server`, whose task set aborts every listener.
        let result = server.block_until_done().await.map_err(io::Error::other);
        if let Err(error) = &result {
            warn!(%error, "dns server stopped");
        }
        result
    }
}

/// Answers each request from the registry's current snapshot.
struct Handler {
    registry: Registry,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let mut metadata = Metadata::response_from_request(&request.metadata);

        // RFC 6891 §6.1.1: a request with OPT gets an OPT back; §6.1.3: a version we do
        // not speak gets BADVERS.
        let edns = request.edns.as_ref().map(|req| {
            let mut edns = Edns::new();
            edns.set_max_payload(req.max_payload().max(512))
                .set_version(EDNS_VERSION);
            edns
        });
        let bad_version = request
            .edns
            .as_ref()
            .is_some_and(|e| e.version() > EDNS_VERSION);

        let (answer, qname, qtype) = match request.request_info() {
            _ if bad_version => (error_answer(ResponseCode::BADVERS), None, None),
            _ if request.metadata.op_code != OpCode::Query => {
                (error_answer(ResponseCode::NotImp), None, None)
            }
            Err(_) => (error_answer(ResponseCode::FormErr), None, None),
            Ok(info) => {
                let query = info.query.original();
                let (name, qtype) = (query.name(), query.query_type());
                // Only class IN holds Cloud Map records.
                let answer = if query.query_class() == DNSClass::IN {
                    // A lock-free load per query: never a stale copy.
                    let snapshot = self.registry.snapshot();
                    answer::resolve(&snapshot, name, qtype, &mut rand::rng())
                } else {
                    error_answer(ResponseCode::Refused)
                };
                (answer, Some(name.clone()), Some(qtype))
            }
        };
        metadata.response_code = answer.rcode;
        metadata.authoritative = answer.authoritative;

        debug!(
            name = qname.as_ref().map(tracing::field::display),
            r#type = qtype.as_ref().map(tracing::field::display),
            rcode = %answer.rcode,
            answers = answer.answers.len(),
            "dns query"
        );

        let mut builder = MessageResponseBuilder::new(&request.queries, None);
        if let Some(edns) = &edns {
            builder.edns(edns);
        }
        let response = builder.build(
            metadata,
            answer.answers.iter(),
            answer.authorities.iter(),
            std::iter::empty(),
            answer.additionals.iter(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(error) => {
                warn!(%error, "dns reply not sent");
                let mut metadata = Metadata::new(
                    request.metadata.id,
                    MessageType::Response,
                    request.metadata.op_code,
                );
                metadata.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header {
                    metadata,
                    counts: HeaderCounts::default(),
                })
            }
        }
    }
}

fn error_answer(rcode: ResponseCode) -> answer::Answer {
    answer::Answer {
        rcode,
        ..answer::Answer::default()
    }
}
