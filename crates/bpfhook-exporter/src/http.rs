//! The HTTP side: `/metrics` (Prometheus text or OpenMetrics by `Accept`), `/healthz`,
//! `/programs` (JSON). A few worker threads share one listening socket. Scrapes read the maps
//! under the exporter's lock, one read at a time, and scrapes that arrive while a read is under
//! way share the next one (each still sees maps read after it arrived), so many scrapers cost
//! about what one costs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use tiny_http::{Header, Request, Response, Server};

use crate::exporter::Exporter;
use crate::exposition::{self, Format};
use crate::metrics::Family;

const WORKERS: usize = 4;

/// A running server; [`Self::stop`] (or drop) closes it and joins its workers.
pub struct HttpServer {
    server: Arc<Server>,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

#[derive(Debug, thiserror::Error)]
#[error("listening on {address}: {reason}")]
pub struct ListenError {
    pub address: String,
    pub reason: String,
}

impl HttpServer {
    pub fn start(address: &str, exporter: Arc<Mutex<Exporter>>) -> Result<Self, ListenError> {
        let scrapes = Arc::new(Scrapes {
            exporter,
            latest: Mutex::new(Latest::default()),
        });
        let server = Server::http(address).map_err(|e| ListenError {
            address: address.to_owned(),
            reason: e.to_string(),
        })?;
        let server = Arc::new(server);
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..WORKERS)
            .map(|_| {
                let (server, stop, scrapes) = (server.clone(), stop.clone(), scrapes.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Acquire) {
                        if let Ok(request) = server.recv() {
                            handle(request, &scrapes);
                        }
                    }
                })
            })
            .collect();
        Ok(Self {
            server,
            stop,
            workers,
        })
    }

    /// The address bound (useful with port 0).
    pub fn address(&self) -> String {
        self.server.server_addr().to_string()
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Release);
        for _ in &self.workers {
            self.server.unblock();
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The exporter and the result of its latest read.
struct Scrapes {
    exporter: Arc<Mutex<Exporter>>,
    latest: Mutex<Latest>,
}

#[derive(Default)]
struct Latest {
    /// Reads begun so far; a read's ordinal is its value once begun.
    begun: u64,
    done: Option<(u64, Arc<Scraped>)>,
}

/// One read of the maps, and its text in each format once some scraper asked for it (the
/// encoding of 10k series costs about what the read does).
struct Scraped {
    families: Arc<Vec<Family>>,
    prometheus: OnceLock<Option<String>>,
    openmetrics: OnceLock<Option<String>>,
}

impl Scraped {
    fn text(&self, format: Format) -> Option<&str> {
        let cell = match format {
            Format::Prometheus => &self.prometheus,
            Format::OpenMetrics => &self.openmetrics,
        };
        cell.get_or_init(|| exposition::encode(&self.families, format).ok())
            .as_deref()
    }
}

impl Scrapes {
    /// A read made after this call began: one that began later and finished is shared, else
    /// this call reads.
    fn scrape(&self) -> Arc<Scraped> {
        let arrived = lock(&self.latest).begun;
        let mut exporter = lock(&self.exporter);
        let ordinal = {
            let mut latest = lock(&self.latest);
            if let Some((ordinal, families)) = &latest.done {
                if *ordinal > arrived {
                    return families.clone();
                }
            }
            latest.begun += 1;
            latest.begun
        };
        let scraped = Arc::new(Scraped {
            families: Arc::new(exporter.collect()),
            prometheus: OnceLock::new(),
            openmetrics: OnceLock::new(),
        });
        lock(&self.latest).done = Some((ordinal, scraped.clone()));
        scraped
    }
}

fn handle(request: Request, scrapes: &Scrapes) {
    let path = request.url().split('?').next().unwrap_or("");
    let response = match path {
        "/metrics" => {
            let format = Format::negotiate(header(&request, "Accept"));
            match scrapes.scrape().text(format) {
                Some(text) => text_response(text.to_owned(), format.content_type(), 200),
                None => text_response("encoding failed\n".into(), "text/plain", 500),
            }
        }
        "/healthz" => text_response("ok\n".into(), "text/plain", 200),
        "/programs" => {
            let page = lock(&scrapes.exporter).programs();
            let body = serde_json::to_string_pretty(&page)
                .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
            text_response(body + "\n", "application/json", 200)
        }
        "/" => text_response(
            "bpfhook exporter: /metrics /programs /healthz\n".into(),
            "text/plain",
            200,
        ),
        _ => text_response("not found\n".into(), "text/plain", 404),
    };
    // A client that hung up is not our error.
    let _ = request.respond(response);
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn header<'a>(request: &'a Request, name: &'static str) -> Option<&'a str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

fn text_response(
    body: String,
    content_type: &str,
    status: u16,
) -> Response<std::io::Cursor<Vec<u8>>> {
    let mut response = Response::from_string(body).with_status_code(status);
    if let Ok(h) = Header::from_bytes("Content-Type", content_type) {
        response.add_header(h);
    }
    response
}
