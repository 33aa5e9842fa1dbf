//! The HTTP side: `/metrics` (Prometheus text or OpenMetrics by `Accept`), `/healthz`,
//! `/programs` (JSON). A few worker threads share one listening socket; scrapes read the maps
//! under the exporter's lock, one at a time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tiny_http::{Header, Request, Response, Server};

use crate::exporter::Exporter;
use crate::exposition::{self, Format};

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
        let server = Server::http(address).map_err(|e| ListenError {
            address: address.to_owned(),
            reason: e.to_string(),
        })?;
        let server = Arc::new(server);
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..WORKERS)
            .map(|_| {
                let (server, stop, exporter) = (server.clone(), stop.clone(), exporter.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Acquire) {
                        if let Ok(request) = server.recv() {
                            handle(request, &exporter);
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

fn handle(request: Request, exporter: &Mutex<Exporter>) {
    let path = request.url().split('?').next().unwrap_or("");
    let response = match path {
        "/metrics" => {
            let format = Format::negotiate(header(&request, "Accept"));
            let families = lock(exporter).collect();
            match exposition::encode(families, format) {
                Ok(text) => text_response(text, format.content_type(), 200),
                Err(_) => text_response("encoding failed\n".into(), "text/plain", 500),
            }
        }
        "/healthz" => text_response("ok\n".into(), "text/plain", 200),
        "/programs" => {
            let page = lock(exporter).programs();
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

fn lock(exporter: &Mutex<Exporter>) -> std::sync::MutexGuard<'_, Exporter> {
    exporter.lock().unwrap_or_else(|e| e.into_inner())
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
