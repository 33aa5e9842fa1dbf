//! BCC's C dialect → libbpf C, by source ranges taken from clang's own AST.
//!
//! clang parses the program once with the shadow header (tables as structs of typed
//! function pointers, see compat.h), so `t.lookup(&k)` is a real, type-checked member call in
//! the AST. From that AST, and only from it, we rewrite:
//!
//! 1. table method calls `t.m(args)` → `__bcc_m(&t, args)` (compat.h maps each onto a helper);
//! 2. reads through kernel pointers, `p->f` (and `p->a.b`) where `p` points to a kernel struct
//!    that is not a program context (`pt_regs`, `xdp_md`, `__sk_buff`, `bpf_*`, tracepoint
//!    records) → `__bcc_read(p->f)` (bpf_probe_read_kernel), as BCC does implicitly; not rewritten: `&p->f`, assignments to it, `sizeof`, arrays and
//!    structs read whole (their fields are read one by one);
//! 3. each program function (non-static, with a body, first parameter a pointer or none)
//!    becomes `static __always_inline` and gets one entry point per program type, since BCC
//!    picks the type at attach time: `NAME__kprobe` (extra typed parameters taken from the
//!    registers, PT_REGS_PARM1…), `NAME__tracepoint`, `NAME__raw_tp`, `NAME__perf_event`,
//!    `NAME__xdp`, `NAME__socket`, `NAME__tc`. Functions named `kprobe__FN`, `kretprobe__FN`
//!    or `tracepoint__CAT__NAME` get only their own entry, in that hook's section.
//!
//! Text a macro body supplies is left alone; what the program wrote as a macro's argument
//! (`bpf_trace_printk("%d\\n", t->pid)`) is rewritten like any other code.

use serde_json::Value;

/// Table methods compat.h implements.
const METHODS: &[&str] = &[
    "lookup",
    "lookup_or_try_init",
    "lookup_or_init",
    "update",
    "insert",
    "delete",
    "increment",
    "atomic_increment",
    "perf_submit",
    "ringbuf_output",
    "ringbuf_reserve",
    "ringbuf_submit",
    "ringbuf_discard",
    "get_stackid",
];

/// Program contexts the verifier lets programs read directly (`ctx->di`, `skb->len`).
const CONTEXT_STRUCTS: &[&str] = &[
    "pt_regs",
    "xdp_md",
    "__sk_buff",
    "sk_msg_md",
    "sk_reuseport_md",
];

/// Program types an unprefixed function gets an entry for: (suffix, section, context type).
const ENTRIES: &[(&str, &str, &str)] = &[
    ("kprobe", "kprobe/__bcc", "struct pt_regs *"),
    ("tracepoint", "tracepoint/bcc/bcc", "void *"),
    (
        "raw_tp",
        "raw_tracepoint/bcc",
        "struct bpf_raw_tracepoint_args *",
    ),
    ("perf_event", "perf_event", "struct bpf_perf_event_data *"),
    ("xdp", "xdp", "struct xdp_md *"),
    ("socket", "socket", "struct __sk_buff *"),
    ("tc", "tc", "struct __sk_buff *"),
];

/// One entry point the rewriter added: program `program` runs `function` as `kind`.
#[derive(Debug, Clone)]
pub struct Entry {
    pub function: String,
    pub kind: String,
    pub program: String,
    /// Set for `kprobe__FN`-style names: attached when the object loads.
    pub auto: bool,
}

#[derive(Debug, Default)]
pub struct Rewritten {
    pub text: String,
    pub entries: Vec<Entry>,
    /// (output map, C type of what is written to it), from perf_submit/ringbuf_output/
    /// ringbuf_reserve calls: the type BCC's `table.event(data)` decodes.
    pub record_types: Vec<(String, String)>,
}

impl Rewritten {
    /// Entries and record types as JSON, for the rewrite cache.
    pub fn facts_json(&self) -> String {
        let entries: Vec<Value> = self
            .entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "function": e.function, "kind": e.kind, "program": e.program, "auto": e.auto
                })
            })
            .collect();
        serde_json::json!({"entries": entries, "record_types": self.record_types}).to_string()
    }

    pub fn from_facts_json(text: String, facts: &str) -> Option<Self> {
        let facts: Value = serde_json::from_str(facts).ok()?;
        let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let entries = facts
            .get("entries")?
            .as_array()?
            .iter()
            .map(|e| {
                Some(Entry {
                    function: field(e, "function")?,
                    kind: field(e, "kind")?,
                    program: field(e, "program")?,
                    auto: e.get("auto")?.as_bool()?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let record_types = facts
            .get("record_types")?
            .as_array()?
            .iter()
            .map(|pair| {
                let pair = pair.as_array()?;
                Some((
                    pair.first()?.as_str()?.to_owned(),
                    pair.get(1)?.as_str()?.to_owned(),
                ))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            text,
            entries,
            record_types,
        })
    }
}

/// Where a location is in the main file: (offset, token length) of a plain location, or of
/// one spelled in a macro argument the program wrote (`bpf_trace_printk("%d", t->pid)`); None
/// for text a macro body supplies.
fn spelled(loc: &Value) -> Option<(usize, usize)> {
    let spot = match loc.get("spellingLoc") {
        None => loc,
        Some(spelling) => {
            let expansion = loc.get("expansionLoc")?;
            let from_argument = expansion.get("isMacroArgExpansion") == Some(&Value::Bool(true));
            let in_header = spelling
                .get("file")
                .and_then(Value::as_str)
                .is_some_and(|f| f.ends_with(".h"));
            if !from_argument || in_header {
                return None;
            }
            spelling
        }
    };
    Some((
        spot.get("offset")?.as_u64()? as usize,
        spot.get("tokLen")?.as_u64()? as usize,
    ))
}

fn begin(node: &Value) -> Option<usize> {
    spelled(node.get("range")?.get("begin")?).map(|(offset, _)| offset)
}

/// One past the last byte of the node's last token.
fn end(node: &Value) -> Option<usize> {
    spelled(node.get("range")?.get("end")?).map(|(offset, len)| offset + len)
}

/// Whether the text at the node's last token is `expected`: guards offsets taken from macro
/// arguments.
fn ends_with_token(text: &str, node: &Value, expected: &str) -> bool {
    end(node)
        .and_then(|end| text.get(end.checked_sub(expected.len())?..end))
        .is_some_and(|token| token == expected)
}

fn kind(node: &Value) -> &str {
    node.get("kind").and_then(Value::as_str).unwrap_or("")
}

fn name(node: &Value) -> &str {
    node.get("name").and_then(Value::as_str).unwrap_or("")
}

fn qual_type(node: &Value) -> &str {
    node.get("type")
        .and_then(|t| t.get("qualType"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn children(node: &Value) -> &[Value] {
    node.get("inner")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Looks through implicit casts and parentheses.
fn strip(mut node: &Value) -> &Value {
    while matches!(kind(node), "ImplicitCastExpr" | "ParenExpr") {
        match children(node).first() {
            Some(inner) => node = inner,
            None => break,
        }
    }
    node
}

/// Text edits: insertions at a position, and deleted ranges.
#[derive(Default)]
struct Edits {
    /// (position, rank, span length, text): closing text (rank 0) goes before opening text
    /// (rank 1) at one position; among openings the longer span comes first, among closings
    /// the shorter, so wrapped expressions nest.
    inserts: Vec<(usize, u8, usize, String)>,
    deletes: Vec<(usize, usize)>,
}

impl Edits {
    fn wrap(&mut self, start: usize, end: usize, open: &str, close: &str) {
        self.inserts.push((start, 1, end - start, open.to_owned()));
        self.inserts.push((end, 0, end - start, close.to_owned()));
    }

    fn apply(mut self, text: &str) -> String {
        self.inserts.sort_by(|a, b| {
            a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(if a.1 == 1 {
                b.2.cmp(&a.2)
            } else {
                a.2.cmp(&b.2)
            })
        });
        // A macro that uses its argument twice shows the same text twice in the AST.
        self.inserts.dedup();
        self.deletes.sort();
        self.deletes.dedup();
        let mut out = String::with_capacity(text.len() * 2);
        let mut inserts = self.inserts.iter().peekable();
        let mut deletes = self.deletes.iter().peekable();
        for (i, ch) in text.char_indices() {
            while let Some((_, _, _, s)) = inserts.next_if(|e| e.0 <= i) {
                out.push_str(s);
            }
            while deletes.next_if(|d| d.1 <= i).is_some() {}
            if deletes.peek().is_some_and(|d| d.0 <= i && i < d.1) {
                continue;
            }
            out.push(ch);
        }
        for (_, _, _, s) in inserts {
            out.push_str(s);
        }
        out
    }
}

/// What the rewriter knows while walking one function.
struct Scope<'a> {
    text: &'a str,
    /// Struct names the program defines itself (their pointers are its own memory).
    own_structs: &'a [String],
}

/// How an expression is used by its parent, for the probe-read rule.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Use {
    Read,
    /// Address taken, assigned to, incremented, or under sizeof: no read happens.
    NoRead,
}

/// Rewrites `text` given clang's JSON AST of it (parsed with the shadow header).
pub fn rewrite(text: &str, ast: &Value) -> Rewritten {
    let decls = children(ast);
    let own_structs: Vec<String> = decls
        .iter()
        .filter(|d| kind(d) == "RecordDecl" && !name(d).starts_with("__bcc_table_"))
        .map(|d| name(d).to_owned())
        .filter(|n| !n.is_empty())
        .collect();
    let mut edits = Edits::default();
    let mut record_types = Vec::new();
    let mut entries = Vec::new();
    let mut wrappers = String::new();
    for decl in decls {
        if kind(decl) != "FunctionDecl" {
            continue;
        }
        let params: Vec<&Value> = children(decl)
            .iter()
            .filter(|c| kind(c) == "ParmVarDecl")
            .collect();
        let scope = Scope {
            text,
            own_structs: &own_structs,
        };
        let mut state = State {
            edits: &mut edits,
            record_types: &mut record_types,
        };
        for child in children(decl) {
            walk(child, Use::Read, &scope, &mut state);
        }
        if let Some(program) = ProgramFunction::of(decl, &params) {
            if let Some(start) = begin(decl) {
                edits
                    .inserts
                    .push((start, 1, 0, "static __always_inline ".to_owned()));
            }
            program.write_entries(&mut wrappers, &mut entries);
        }
    }
    let mut out = edits.apply(text);
    if !wrappers.is_empty() {
        out.push_str("\n/* bpfhook: program entry points */\n");
        out.push_str(&wrappers);
    }
    Rewritten {
        text: out,
        entries,
        record_types,
    }
}

/// What the walk collects.
struct State<'a> {
    edits: &'a mut Edits,
    record_types: &'a mut Vec<(String, String)>,
}

fn walk(node: &Value, usage: Use, scope: &Scope<'_>, state: &mut State<'_>) {
    match kind(node) {
        "CallExpr" => rewrite_method_call(node, scope.text, state),
        "MemberExpr" if usage == Use::Read => wrap_kernel_read(node, scope, state.edits),
        _ => {}
    }
    // Parentheses and implicit casts pass their parent's use on.
    let transparent = matches!(kind(node), "ParenExpr" | "ImplicitCastExpr");
    let no_read_operand = match kind(node) {
        "UnaryOperator" => matches!(
            node.get("opcode").and_then(Value::as_str),
            Some("&" | "++" | "--")
        ),
        "UnaryExprOrTypeTraitExpr" => true,
        _ => false,
    };
    let assigns = match kind(node) {
        "BinaryOperator" => node.get("opcode").and_then(Value::as_str) == Some("="),
        "CompoundAssignOperator" => true,
        _ => false,
    };
    for (index, child) in children(node).iter().enumerate() {
        let child_use = if transparent {
            usage
        } else if no_read_operand || (assigns && index == 0) {
            Use::NoRead
        } else if kind(node) == "MemberExpr" {
            // The base of `a.b` / `a->b`: only the outermost member decides about reading.
            Use::NoRead
        } else {
            Use::Read
        };
        walk_with_member_bases(child, child_use, scope, state);
    }
}

/// Member bases are not reads of their own, but what is inside them can be (`a->b->c`: the
/// `a->b` pointer is read).
fn walk_with_member_bases(node: &Value, usage: Use, scope: &Scope<'_>, state: &mut State<'_>) {
    let stripped = strip(node);
    if usage == Use::NoRead && kind(stripped) == "MemberExpr" && is_pointer(qual_type(stripped)) {
        // `a->b->c`: `a->b` is a pointer value that has to be read first.
        walk(node, Use::Read, scope, state);
    } else {
        walk(node, usage, scope, state);
    }
}

fn is_pointer(ty: &str) -> bool {
    ty.trim_end().ends_with('*')
}

/// `t.m(args)` with `t` a table: `__bcc_m(&t, args)`.
fn rewrite_method_call(call: &Value, text: &str, state: &mut State<'_>) {
    let Some(callee) = children(call).first().map(strip) else {
        return;
    };
    if kind(callee) != "MemberExpr" || callee.get("isArrow") == Some(&Value::Bool(true)) {
        return;
    }
    let method = name(callee);
    if !METHODS.contains(&method) {
        return;
    }
    let Some(table) = children(callee).first().map(strip) else {
        return;
    };
    if kind(table) != "DeclRefExpr" || !qual_type(table).starts_with("struct __bcc_table_") {
        return;
    }
    let (Some(start), Some(member_end), Some(call_end)) = (begin(call), end(callee), end(call))
    else {
        return;
    };
    let Some(paren) = text[member_end..call_end].find('(').map(|p| member_end + p) else {
        return;
    };
    let table_name = table.get("referencedDecl").map(name).unwrap_or_default();
    if !ends_with_token(text, table, table_name) || !ends_with_token(text, callee, method) {
        return;
    }
    if let Some(record) = record_type(method, children(call)) {
        state.record_types.push((table_name.to_owned(), record));
    }
    let has_args = children(call).len() > 1;
    let opening = format!(
        "__bcc_{method}(&{table_name}{}",
        if has_args { ", " } else { "" }
    );
    state.edits.deletes.push((start, paren + 1));
    state
        .edits
        .inserts
        .push((start, 1, call_end - start, opening));
}

/// The C type an output call writes: the pointee of its data argument, or what the size of
/// a ring buffer reservation is taken of.
fn record_type(method: &str, call_children: &[Value]) -> Option<String> {
    // call_children[0] is the callee; arguments follow.
    let pointee = |arg: &Value| {
        let ty = qual_type(strip(arg)).trim().to_owned();
        let pointee = ty.strip_suffix('*')?.trim().trim_start_matches("const ");
        (pointee != "void").then(|| pointee.to_owned())
    };
    match method {
        "perf_submit" => pointee(call_children.get(2)?),
        "ringbuf_output" => pointee(call_children.get(1)?),
        "ringbuf_reserve" => {
            let size = strip(call_children.get(1)?);
            if kind(size) != "UnaryExprOrTypeTraitExpr" {
                return None;
            }
            match size.get("argType").and_then(|t| t.get("qualType")) {
                Some(Value::String(ty)) => Some(ty.clone()),
                _ => children(size)
                    .first()
                    .map(|e| qual_type(strip(e)).to_owned()),
            }
        }
        _ => None,
    }
}

/// `p->f` (or `p->a.b`) read through a kernel pointer: `__bcc_read(p->f)`.
fn wrap_kernel_read(member: &Value, scope: &Scope<'_>, edits: &mut Edits) {
    let ty = qual_type(member);
    let whole = ty.ends_with(']')
        || ((ty.starts_with("struct ") || ty.starts_with("union ")) && !is_pointer(ty));
    if whole {
        return;
    }
    // Down the `.` chain to the arrow that dereferences.
    let mut current = member;
    while current.get("isArrow") != Some(&Value::Bool(true)) {
        match children(current).first().map(strip) {
            Some(base) if kind(base) == "MemberExpr" => current = base,
            _ => return,
        }
    }
    let Some(base) = children(current).first().map(strip) else {
        return;
    };
    if !points_to_kernel_struct(qual_type(base), scope.own_structs) {
        return;
    }
    if !ends_with_token(scope.text, member, name(member)) {
        return;
    }
    if let (Some(start), Some(end)) = (begin(member), end(member)) {
        if start < end {
            edits.wrap(start, end, "__bcc_read(", ")");
        }
    }
}

fn points_to_kernel_struct(ty: &str, own: &[String]) -> bool {
    let ty = ty.trim().trim_start_matches("const ").trim();
    let Some(pointee) = ty.strip_suffix('*') else {
        return false;
    };
    let pointee = pointee.trim().trim_end_matches("const").trim();
    let Some(record) = pointee
        .strip_prefix("struct ")
        .or_else(|| pointee.strip_prefix("union "))
    else {
        return false;
    };
    let record = record.trim();
    !CONTEXT_STRUCTS.contains(&record)
        && !record.starts_with("tracepoint__")
        && !record.starts_with("trace_event_raw_")
        && !record.starts_with("__bcc")
        && !record.starts_with("bpf_")
        && !own.iter().any(|o| o == record)
}

/// A function BCC would load as a program.
struct ProgramFunction {
    name: String,
    returns_void: bool,
    /// Types of the parameters after the context.
    extra: Vec<String>,
    has_context: bool,
}

impl ProgramFunction {
    fn of(decl: &Value, params: &[&Value]) -> Option<Self> {
        let name = name(decl);
        let has_body = children(decl).iter().any(|c| kind(c) == "CompoundStmt");
        let is_static = decl.get("storageClass").and_then(Value::as_str) == Some("static");
        let has_section = children(decl).iter().any(|c| kind(c) == "SectionAttr");
        if !has_body || is_static || has_section || name.starts_with("__bcc") {
            return None;
        }
        begin(decl)?;
        if let Some(first) = params.first() {
            if !is_pointer(qual_type(first)) {
                return None;
            }
        }
        let ty = qual_type(decl);
        Some(Self {
            name: name.to_owned(),
            returns_void: ty.starts_with("void "),
            extra: params
                .iter()
                .skip(1)
                .map(|p| qual_type(p).to_owned())
                .collect(),
            has_context: !params.is_empty(),
        })
    }

    /// The hook the name asks for: (kind, section).
    fn named_hook(&self) -> Option<(&'static str, String)> {
        if let Some(function) = self.name.strip_prefix("kprobe__") {
            return Some(("kprobe", format!("kprobe/{function}")));
        }
        if let Some(function) = self.name.strip_prefix("kretprobe__") {
            return Some(("kprobe", format!("kretprobe/{function}")));
        }
        let rest = self.name.strip_prefix("tracepoint__")?;
        let (category, event) = rest.split_once("__")?;
        Some(("tracepoint", format!("tracepoint/{category}/{event}")))
    }

    fn write_entries(&self, out: &mut String, entries: &mut Vec<Entry>) {
        match self.named_hook() {
            Some((kind, section)) => {
                let context = ENTRIES
                    .iter()
                    .find(|e| e.0 == kind)
                    .map_or("void *", |e| e.2);
                self.write_entry(out, entries, kind, &section, context, true);
            }
            None => {
                for (kind, section, context) in ENTRIES {
                    if *kind != "kprobe" && !self.extra.is_empty() {
                        continue;
                    }
                    self.write_entry(out, entries, kind, section, context, false);
                }
            }
        }
    }

    fn write_entry(
        &self,
        out: &mut String,
        entries: &mut Vec<Entry>,
        kind: &str,
        section: &str,
        context: &str,
        auto: bool,
    ) {
        let program = format!("{}__{kind}", self.name);
        let mut args = Vec::new();
        if self.has_context {
            args.push("(void *)ctx".to_owned());
        }
        for (index, ty) in self.extra.iter().enumerate() {
            args.push(format!("({ty})PT_REGS_PARM{}(ctx)", index + 1));
        }
        let call = format!("{}({})", self.name, args.join(", "));
        let body = if self.returns_void {
            format!("{call}; return 0;")
        } else {
            format!("return {call};")
        };
        out.push_str(&format!(
            "BCC_SEC(\"{section}\") int {program}({context}ctx) {{ {body} }}\n"
        ));
        entries.push(Entry {
            function: self.name.clone(),
            kind: kind.to_owned(),
            program,
            auto,
        });
    }
}
