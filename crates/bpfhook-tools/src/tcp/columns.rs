//! tcpstates' and tcplife's three line layouts (BCC's default, `-w` wide, `-s` CSV) from one
//! column table each, and the time columns every TCP tool may start a line with.

use crate::histograms::clock_time;

/// How tcpstates and tcplife lay out a line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// BCC's default: IPv4-wide address columns, no IP column.
    #[default]
    Narrow,
    /// `-w`: IPv6-wide address columns, a 16-character COMM and an IP column.
    Wide,
    /// `-s`: comma-separated values, nothing padded or cut.
    Csv,
}

/// How one column prints in a text layout.
#[derive(Clone, Copy)]
pub enum Fit {
    /// Padded on the right to this width.
    Left(usize),
    /// Padded on the left to this width.
    Right(usize),
    /// Cut to this width, then padded (BCC's `%-10.10s`).
    Cut(usize),
    /// As it is (the last column).
    Bare,
    /// Not in this layout (the narrow layout's IP column).
    Absent,
}

/// One column: its header, its fit in the narrow and wide layouts, and whether CSV has it
/// (the `->` between two states is text only).
pub struct Column {
    pub name: &'static str,
    pub narrow: Fit,
    pub wide: Fit,
    pub csv: bool,
}

impl Column {
    pub const fn new(name: &'static str, narrow: Fit, wide: Fit) -> Self {
        Self {
            name,
            narrow,
            wide,
            csv: true,
        }
    }
}

/// `cells` (one per column) laid out as `layout` says.
pub fn render<S: AsRef<str>>(layout: Layout, columns: &[Column], cells: &[S]) -> String {
    let cells = columns.iter().zip(cells).map(|(c, s)| (c, s.as_ref()));
    if layout == Layout::Csv {
        let kept: Vec<&str> = cells.filter(|(c, _)| c.csv).map(|(_, s)| s).collect();
        return kept.join(",");
    }
    let fitted: Vec<String> = cells
        .filter_map(|(column, text)| {
            let fit = if layout == Layout::Wide {
                column.wide
            } else {
                column.narrow
            };
            Some(match fit {
                Fit::Left(width) => format!("{text:<width$}"),
                Fit::Right(width) => format!("{text:>width$}"),
                Fit::Cut(width) => {
                    format!("{:<width$}", text.chars().take(width).collect::<String>())
                }
                Fit::Bare => text.to_owned(),
                Fit::Absent => return None,
            })
        })
        .collect();
    fitted.join(" ")
}

/// The header line of a column table.
pub fn header(layout: Layout, columns: &[Column]) -> String {
    let names: Vec<&str> = columns.iter().map(|c| c.name).collect();
    render(layout, columns, &names)
}

/// The columns a line may start with: `-T` (TIME, the clock) and `-t` (TIME(s), seconds since
/// the first event), as each BCC tool prints them.
#[derive(Debug, Default, Clone, Copy)]
pub struct TimeColumns {
    pub clock: bool,
    pub seconds: bool,
    /// Decimals of TIME(s): tcpstates and tcplife print 6 and a space after each time column,
    /// tcpconnect and tcpaccept 3 and none.
    pub precise: bool,
}

impl TimeColumns {
    /// The header's start.
    pub fn header(&self, layout: Layout) -> String {
        self.cells(layout, "TIME", "TIME(s)")
    }

    /// A line's start: `seconds` since the first event.
    pub fn line(&self, layout: Layout, seconds: f64) -> String {
        let decimals = if self.precise || layout == Layout::Csv {
            6
        } else {
            3
        };
        let clock = if self.clock {
            clock_time()
        } else {
            String::new()
        };
        self.cells(layout, &clock, &format!("{seconds:.decimals$}"))
    }

    fn cells(&self, layout: Layout, clock: &str, elapsed: &str) -> String {
        let mut start = String::new();
        if self.clock {
            // HH:MM:SS is 8 wide: BCC's `%-8s ` and `%-9s` are the same column.
            start.push_str(&match layout {
                Layout::Csv => format!("{clock},"),
                _ => format!("{clock:<8} "),
            });
        }
        if self.seconds {
            let gap = if self.precise { " " } else { "" };
            start.push_str(&match layout {
                Layout::Csv => format!("{elapsed},"),
                _ => format!("{elapsed:<9}{gap}"),
            });
        }
        start
    }
}
