//! Families to text through the Prometheus org's client: the Prometheus text format (0.0.4)
//! or OpenMetrics, whichever the scraper asked for.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::metrics::{Family, Kind, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Prometheus,
    OpenMetrics,
}

impl Format {
    /// OpenMetrics when the `Accept` header names it (Prometheus asks for it first), else the
    /// classic text format.
    pub fn negotiate(accept: Option<&str>) -> Self {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The families of one scrape, encoded when the registry asks.
#[derive(Debug)]
struct Scrape(Arc<Vec<Family>>);

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in self.0.iter() {
            let kind = match family.kind {
                Kind::Counter => MetricType::Counter,
                Kind::Gauge => MetricType::Gauge,
                Kind::Histogram => MetricType::Histogram,
            };
            let mut metric = encoder.encode_descriptor(&family.name, &family.help, None, kind)?;
            for series in &family.series {
                let encoder = metric.encode_family(&series.labels)?;
                encode_value(encoder, family.kind, &series.value)?;
            }
        }
        Ok(())
    }
}

fn encode_value(
    mut encoder: prometheus_client::encoding::MetricEncoder<'_>,
    kind: Kind,
    value: &Value,
) -> Result<(), std::fmt::Error> {
    match (kind, value) {
        (Kind::Counter, Value::Integer(v)) => encoder.encode_counter::<NoLabelSet, _, f64>(v, None),
        (Kind::Counter, Value::Float(v)) => encoder.encode_counter::<NoLabelSet, _, f64>(v, None),
        (_, Value::Integer(v)) => encoder.encode_gauge(&(*v as i64)),
        (_, Value::Float(v)) => encoder.encode_gauge(v),
        (
            _,
            Value::Histogram {
                sum,
                count,
                buckets,
            },
        ) => {
            let mut all = buckets.clone();
            all.push((f64::INFINITY, *count));
            // The client wants per-bucket counts and accumulates them itself.
            let mut previous = 0;
            let per_bucket: Vec<(f64, u64)> = all
                .iter()
                .map(|&(le, cumulative)| {
                    let own = cumulative.saturating_sub(previous);
                    previous = cumulative;
                    (le, own)
                })
                .collect();
            encoder.encode_histogram::<NoLabelSet>(*sum, *count, &per_bucket, None)
        }
    }
}

/// The scrape's text in the chosen format.
pub fn encode(families: &Arc<Vec<Family>>, format: Format) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape(families.clone())));
    let mut out = String::new();
    match format {
        Format::Prometheus => {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?
        }
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry)?,
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Series;

    fn families() -> Arc<Vec<Family>> {
        let labels = vec![("proto".to_owned(), "udp".to_owned())];
        Arc::new(vec![
            Family {
                name: "packets".into(),
                help: "Packets".into(),
                kind: Kind::Counter,
                series: vec![Series {
                    labels: labels.clone(),
                    value: Value::Integer(7),
                }],
            },
            Family {
                name: "queue".into(),
                help: "Queue depth".into(),
                kind: Kind::Gauge,
                series: vec![Series {
                    labels: labels.clone(),
                    value: Value::Integer(3),
                }],
            },
            Family {
                name: "latency".into(),
                help: "Latency".into(),
                kind: Kind::Histogram,
                series: vec![Series {
                    labels,
                    value: Value::Histogram {
                        sum: 5.0,
                        count: 4,
                        buckets: vec![(1.0, 1), (2.0, 3)],
                    },
                }],
            },
        ])
    }

    #[test]
    fn both_formats() {
        let text = encode(&families(), Format::Prometheus).unwrap();
        assert!(
            text.contains("# TYPE packets_total counter\npackets_total{proto=\"udp\"} 7\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE queue gauge\nqueue{proto=\"udp\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("latency_bucket{proto=\"udp\",le=\"2\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("latency_sum{proto=\"udp\"} 5.0\n"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 4\n"), "{text}");
        assert!(!text.contains("# EOF"));
        let open = encode(&families(), Format::OpenMetrics).unwrap();
        assert!(
            open.contains("# TYPE packets counter\npackets_total{proto=\"udp\"} 7\n"),
            "{open}"
        );
        assert!(open.ends_with("# EOF\n"));
    }

    #[test]
    fn negotiation() {
        let prometheus =
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Prometheus);
        assert_eq!(Format::negotiate(None), Format::Prometheus);
    }
}
