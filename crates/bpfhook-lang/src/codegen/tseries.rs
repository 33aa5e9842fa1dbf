//! `@m[k] = tseries(n, interval, num_intervals[, agg])`: the bucket of this interval in the
//! ring of `num_intervals`, found or created, reset when it still holds an older interval,
//! then updated as `agg` says. A bucket is three words: value, meta, epoch (see
//! `sema::MapValue::Tseries`); the runtime combines them per CPU when the map prints.

use bpfhook::asm::{AluOp, Helper, JmpOp, Size, R0, R1, R10, R2, R7};

use super::frame::{ProgramGen, Val};
use super::stmt::bucket_offset;
use crate::diag::Span;
use crate::sema::{MapInfo, MapValue, TseriesAgg};

const VALUE: i16 = 0;
const META: i16 = 8;
const EPOCH: i16 = 16;

/// The longest ring `delete()` walks bucket by bucket within the verifier's budget.
const MAX_DELETED_BUCKETS: u64 = 4096;

impl ProgramGen<'_> {
    /// `key` is the user key in scratch (room left for the bucket); `argument` the value.
    pub(super) fn tseries(
        &mut self,
        info: &MapInfo,
        object: &str,
        key: i32,
        argument: Val,
        span: Span,
    ) {
        let MapValue::Tseries {
            interval_ns,
            num_intervals,
            agg,
            signed,
        } = info.value
        else {
            return;
        };
        let now = self.tseries_now(span);
        // epoch = now / interval; bucket = epoch % num_intervals (unsigned, as bpftrace).
        self.load(R0, now);
        self.b
            .ld_imm64(R1, interval_ns)
            .alu64_reg(AluOp::Div, R0, R1);
        let epoch = self.spill(R0);
        self.b
            .ld_imm64(R1, num_intervals)
            .alu64_reg(AluOp::Mod, R0, R1);
        self.stx_scratch(Size::DW, key + bucket_offset(info), R0);
        self.map_args(object, key);
        self.b.call_helper(Helper::MapLookupElem);
        // r7: the bucket, in the map or (new) in scratch; `created` says which.
        let created = self.slot();
        let new_bucket = self.mem(info.value.value_size());
        let (create, update) = (self.label("ts_create"), self.label("ts_update"));
        self.b
            .st(Size::DW, R10, created, 0)
            .jmp_imm(JmpOp::Jeq, R0, 0, &create)
            .mov64_reg(R7, R0)
            .ja(&update)
            .label(&create);
        self.zero(new_bucket, info.value.value_size());
        self.load(R0, epoch);
        self.stx_scratch(Size::DW, new_bucket + i32::from(EPOCH), R0);
        self.b.st(Size::DW, R10, created, 1);
        self.mem_address(R7, new_bucket);
        self.b.label(&update);
        self.load(R2, epoch);
        if agg != TseriesAgg::Last {
            // A bucket left from an older interval starts again.
            let current = self.label("ts_current");
            self.b
                .ldx(Size::DW, R1, R7, EPOCH)
                .jmp_reg(JmpOp::Jeq, R1, R2, &current)
                .st(Size::DW, R7, VALUE, 0)
                .st(Size::DW, R7, META, 0)
                .label(&current);
        }
        self.load(R1, argument);
        match agg {
            TseriesAgg::Last => {
                self.load(R0, now);
                self.b
                    .stx(Size::DW, R7, R1, VALUE)
                    .stx(Size::DW, R7, R0, META);
            }
            TseriesAgg::Sum | TseriesAgg::Avg => {
                self.b
                    .ldx(Size::DW, R0, R7, VALUE)
                    .alu64_reg(AluOp::Add, R0, R1)
                    .stx(Size::DW, R7, R0, VALUE);
                if agg == TseriesAgg::Avg {
                    self.b
                        .ldx(Size::DW, R0, R7, META)
                        .alu64_imm(AluOp::Add, R0, 1)
                        .stx(Size::DW, R7, R0, META);
                }
            }
            TseriesAgg::Min | TseriesAgg::Max => {
                // meta: whether the bucket holds a value yet.
                let (set, keep) = (self.label("ts_set"), self.label("ts_keep"));
                let op = match (agg == TseriesAgg::Min, signed) {
                    (true, true) => JmpOp::Jsle,
                    (true, false) => JmpOp::Jle,
                    (false, true) => JmpOp::Jsge,
                    (false, false) => JmpOp::Jge,
                };
                self.b
                    .ldx(Size::DW, R0, R7, META)
                    .jmp_imm(JmpOp::Jeq, R0, 0, &set)
                    .ldx(Size::DW, R0, R7, VALUE)
                    .jmp_reg(op, R0, R1, &keep)
                    .label(&set)
                    .stx(Size::DW, R7, R1, VALUE)
                    .label(&keep)
                    .st(Size::DW, R7, META, 1);
            }
        }
        self.b.stx(Size::DW, R7, R2, EPOCH);
        let done = self.label("ts_done");
        self.b
            .ldx(Size::DW, R0, R10, created)
            .jmp_imm(JmpOp::Jeq, R0, 0, &done);
        self.update_map(object, key, new_bucket, span);
        self.b.label(&done);
    }

    /// `delete(@m[k])`: every bucket of the key's ring (a loop the verifier walks through,
    /// so rings are bounded here).
    pub(super) fn tseries_delete(&mut self, info: &MapInfo, object: &str, key: i32, span: Span) {
        let MapValue::Tseries { num_intervals, .. } = info.value else {
            return;
        };
        if num_intervals > MAX_DELETED_BUCKETS {
            let message = format!("delete() of a tseries() needs at most {MAX_DELETED_BUCKETS} intervals ({num_intervals} here); clear() empties any");
            return self.error(span, message);
        }
        let bucket = self.slot();
        let (top, end) = (self.label("ts_del"), self.label("ts_deleted"));
        self.b
            .st(Size::DW, R10, bucket, 0)
            .label(&top)
            .ldx(Size::DW, R0, R10, bucket)
            .jmp_imm(JmpOp::Jge, R0, num_intervals as i32, &end);
        self.stx_scratch(Size::DW, key + bucket_offset(info), R0);
        self.map_args(object, key);
        self.b
            .call_helper(Helper::MapDeleteElem)
            .ldx(Size::DW, R0, R10, bucket)
            .alu64_imm(AluOp::Add, R0, 1)
            .stx(Size::DW, R10, R0, bucket)
            .ja(&top)
            .label(&end);
    }

    /// The timestamp a bucket is chosen by: TAI nanoseconds (wall-clock time, as bpftrace
    /// prints the intervals), or the value of the `BPFTRACE_DUMMY_TS_MAP` map.
    fn tseries_now(&mut self, span: Span) -> Val {
        match self.analysis.settings.dummy_ts_map.clone() {
            Some(name) => self.map_load(name.trim_start_matches('@'), &[], span),
            None => {
                self.b.call_helper(Helper::KtimeGetTaiNs);
                self.spill(R0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::sema::Settings;
    use crate::testutil::run_json;

    /// Runs `body` in a begin probe with `@ts` as the clock, returning the JSON of `@m`.
    fn series_of(body: &str) -> serde_json::Value {
        let settings = Settings {
            dummy_ts_map: Some("@ts".to_owned()),
            ..Settings::default()
        };
        let source = format!("begin {{ @ts = (uint64)0; {body} clear(@ts); }}");
        let (code, out) = run_json(&source, settings, false);
        assert_eq!(code, 0, "{out}");
        let line = out
            .lines()
            .find(|l| l.contains("\"@m\""))
            .unwrap_or_else(|| panic!("no @m in {out}"));
        let record: serde_json::Value = serde_json::from_str(line).expect("JSON");
        assert_eq!(record["type"], "tseries", "{line}");
        record["data"]["@m"].clone()
    }

    /// (interval start, value) of each point.
    fn points(series: &serde_json::Value) -> Vec<(String, i64)> {
        series
            .as_array()
            .expect("an array")
            .iter()
            .map(|p| {
                let start = p["interval_start"].as_str().expect("a time");
                (
                    start[17..].to_owned(),
                    p["value"].as_i64().expect("a number"),
                )
            })
            .collect()
    }

    fn at(seconds: &str, value: i64) -> (String, i64) {
        (format!("{seconds}.000000000"), value)
    }

    #[test]
    fn each_aggregation_combines_an_interval_and_resets_a_stale_bucket() {
        // Two buckets, 1s each: epochs 1 and 2, then epoch 3 reuses epoch 1's bucket.
        let steps = |agg: &str| {
            let call = |v: i64| format!("@m = tseries({v}, 1s, 2{agg});");
            format!(
                "@ts = 1000000000; {} {} @ts = 2000000000; {} @ts = 3000000000; {} {}",
                call(3),
                call(-4),
                call(10),
                call(7),
                call(1)
            )
        };
        let cases = [
            ("", [10, 1]),
            (r#", "sum""#, [10, 8]),
            (r#", "min""#, [10, 1]),
            (r#", "max""#, [10, 7]),
            (r#", "avg""#, [10, 4]),
        ];
        for (agg, [second, third]) in cases {
            let got = points(&series_of(&steps(agg)));
            assert_eq!(got, [at("02", second), at("03", third)], "tseries(…{agg})");
        }
    }

    #[test]
    fn keys_have_rings_of_their_own_and_unsigned_values_stay_unsigned() {
        let body = r#"@ts = 5000000000; @m["a"] = tseries((uint64)1, 1s, 3); @ts = 7000000000; @m["b"] = tseries((uint64)2, 1s, 3);"#;
        let series = series_of(body);
        assert_eq!(points(&series["a"]), [at("05", 1)]);
        assert_eq!(points(&series["b"]), [at("07", 2)]);
    }

    #[test]
    fn delete_removes_every_bucket_of_the_key() {
        let body = r#"@ts = 1000000000; @m["a"] = tseries(1, 1s, 3); @ts = 2000000000; @m["a"] = tseries(2, 1s, 3); @m["b"] = tseries(3, 1s, 3); delete(@m["a"]);"#;
        let series = series_of(body);
        assert_eq!(series.as_object().map(|o| o.len()), Some(1), "{series}");
        assert_eq!(points(&series["b"]), [at("02", 3)]);
    }
}
