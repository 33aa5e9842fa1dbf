//! bpftrace's output: printf formatting, values, maps, histograms, as text or JSON.
