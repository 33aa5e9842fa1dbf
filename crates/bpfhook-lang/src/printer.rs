//! A syntax tree back as bpftrace source: declarations first, then probes, one statement a
//! line, parentheses only where precedence needs them. `parse(print(p))` gives `p` again up to
//! spans and ids.

use std::fmt::Write;

use crate::ast::*;
use crate::parser::precedence;
use crate::parser::ANONYMOUS_RECORD;

/// Binding strengths beyond the binary operators' 1..=10 (see [`precedence`]).
const TERNARY: u8 = 0;
const UNARY: u8 = 11;
const POSTFIX: u8 = 12;

pub fn print(program: &Program) -> String {
    let mut p = Printer::default();
    // Anonymous records are written where their field is.
    for decl in program.types.iter().filter(|d| !is_anonymous(d)) {
        p.type_decl(decl, &program.types);
    }
    for decl in &program.map_decls {
        p.line(&format!(
            "let @{} = {}({});",
            decl.name, decl.kind, decl.max_entries
        ));
    }
    if !program.config.is_empty() {
        p.line("config = {");
        p.indent += 1;
        for item in &program.config {
            let value = match &item.value {
                ConfigValue::Integer(v) => v.to_string(),
                ConfigValue::String(s) => quoted(s),
                ConfigValue::Ident(w) => w.clone(),
            };
            p.line(&format!("{} = {value};", item.key));
        }
        p.indent -= 1;
        p.line("}");
    }
    for m in &program.macros {
        let params: Vec<&str> = m.params.iter().map(|i| i.name.as_str()).collect();
        p.start_line(&format!("macro {}({}) ", m.name, params.join(", ")));
        p.block_with_value(&m.body, m.value.as_ref());
    }
    for probe in &program.probes {
        let points: Vec<&str> = probe.attach_points.iter().map(|a| a.raw.as_str()).collect();
        let mut head = points.join(",\n");
        if let Some(predicate) = &probe.predicate {
            let mut text = expr(predicate, TERNARY);
            // A `/` would close the predicate early.
            if text.contains('/') {
                text = format!("({text})");
            }
            write!(head, " /{text}/").expect("writing to a String");
        }
        p.start_line(&format!("{head} "));
        p.block(&probe.body);
    }
    p.out
}

#[derive(Default)]
struct Printer {
    out: String,
    indent: usize,
}

impl Printer {
    fn start_line(&mut self, text: &str) {
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
    }

    fn line(&mut self, text: &str) {
        self.start_line(text);
        self.out.push('\n');
    }

    fn type_decl(&mut self, decl: &TypeDecl, all: &[TypeDecl]) {
        match decl {
            TypeDecl::Struct {
                name,
                union,
                fields,
                ..
            } => {
                let keyword = if *union { "union" } else { "struct" };
                self.line(&format!("{keyword} {name} {{"));
                self.indent += 1;
                for field in fields {
                    self.line(&field_decl(field, all));
                }
                self.indent -= 1;
                self.line("};");
            }
            TypeDecl::Enum { name, variants, .. } => {
                let variants: Vec<String> =
                    variants.iter().map(|(n, v)| format!("{n} = {v}")).collect();
                let name = if name.is_empty() {
                    String::new()
                } else {
                    format!("{name} ")
                };
                self.line(&format!("enum {name}{{ {} }};", variants.join(", ")));
            }
        }
    }

    /// Prints `{ … }` from the current column, ending the line.
    fn block(&mut self, block: &Block) {
        self.block_with_value(block, None);
    }

    /// `{ …; value }`: a block whose last expression, without `;`, is its value.
    fn block_with_value(&mut self, block: &Block, value: Option<&Expr>) {
        self.out.push_str("{\n");
        self.indent += 1;
        for statement in &block.statements {
            self.statement(statement);
        }
        if let Some(value) = value {
            self.line(&expr(value, TERNARY));
        }
        self.indent -= 1;
        self.line("}");
    }

    fn statement(&mut self, statement: &Statement) {
        match &statement.kind {
            StatementKind::Expr(e) => self.line(&format!("{};", expr(e, TERNARY))),
            StatementKind::Assign { target, op, value } => {
                let op = op.map(BinaryOp::symbol).unwrap_or_default();
                self.line(&format!(
                    "{} {op}= {};",
                    expr(target, POSTFIX),
                    expr(value, TERNARY)
                ));
            }
            StatementKind::Let {
                variable,
                ty,
                value,
            } => {
                let mut text = format!("let ${}", variable.name);
                if let Some(ty) = ty {
                    write!(text, ": {}", type_name(ty)).expect("writing to a String");
                }
                if let Some(value) = value {
                    write!(text, " = {}", expr(value, TERNARY)).expect("writing to a String");
                }
                self.line(&format!("{text};"));
            }
            StatementKind::If { .. } => {
                self.start_line("");
                self.if_chain(statement);
            }
            StatementKind::While { condition, body } => {
                self.start_line(&format!("while ({}) ", expr(condition, TERNARY)));
                self.block(body);
            }
            StatementKind::Unroll { count, body } => {
                self.start_line(&format!("unroll ({}) ", expr(count, TERNARY)));
                self.block(body);
            }
            StatementKind::For {
                variable,
                iterable,
                body,
            } => {
                let iterable = match iterable {
                    Iterable::Map(m) => format!("@{}", m.name),
                    Iterable::Range { start, end } => {
                        format!("{}..{}", expr(start, TERNARY), expr(end, TERNARY))
                    }
                };
                self.start_line(&format!("for (${} : {iterable}) ", variable.name));
                self.block(body);
            }
            StatementKind::Return(None) => self.line("return;"),
            StatementKind::Return(Some(e)) => self.line(&format!("return {};", expr(e, TERNARY))),
            StatementKind::Break => self.line("break;"),
            StatementKind::Continue => self.line("continue;"),
            StatementKind::Block(block) => {
                self.start_line("");
                self.block(block);
            }
        }
    }

    /// `if (…) { … } else if (…) { … } else { … }` from the current column.
    fn if_chain(&mut self, statement: &Statement) {
        let StatementKind::If {
            condition,
            then,
            otherwise,
        } = &statement.kind
        else {
            return;
        };
        write!(self.out, "if ({}) ", expr(condition, TERNARY)).expect("writing to a String");
        self.block(then);
        let Some(otherwise) = otherwise else {
            return;
        };
        // The block's closing line was just written; continue on it.
        self.out.pop();
        self.out.push_str(" else ");
        match otherwise.statements.as_slice() {
            [only @ Statement {
                kind: StatementKind::If { .. },
                ..
            }] => self.if_chain(only),
            _ => self.block(otherwise),
        }
    }
}

/// The expression as source, in parentheses if it binds more loosely than `min`.
fn expr(e: &Expr, min: u8) -> String {
    let (text, strength) = expr_text(e);
    if strength < min {
        format!("({text})")
    } else {
        text
    }
}

fn list(items: &[Expr]) -> String {
    items
        .iter()
        .map(|e| expr(e, TERNARY))
        .collect::<Vec<_>>()
        .join(", ")
}

fn expr_text(e: &Expr) -> (String, u8) {
    let text = match &e.kind {
        ExprKind::Integer { value, suffix } => {
            let suffix = suffix.as_deref().unwrap_or_default();
            // Duration literals were scaled to nanoseconds: written back in their unit.
            let value = value / time_unit_ns(suffix).unwrap_or(1);
            format!("{value}{suffix}")
        }
        ExprKind::String(s) => quoted(s),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Variable(v) => format!("${v}"),
        ExprKind::Map(m) => format!("@{m}"),
        ExprKind::MapIndex { map, keys } => format!("@{}[{}]", map.name, list(keys)),
        ExprKind::Identifier(name) => name.clone(),
        ExprKind::Positional(n) => format!("${n}"),
        ExprKind::PositionalCount => "$#".to_string(),
        ExprKind::Call { function, args } => format!("{}({})", function.name, list(args)),
        ExprKind::Field { base, field, arrow } => {
            let sep = if *arrow { "->" } else { "." };
            format!("{}{sep}{}", expr(base, POSTFIX), field.name)
        }
        ExprKind::TupleIndex { base, index } => format!("{}.{index}", expr(base, POSTFIX)),
        ExprKind::Index { base, index } => {
            format!("{}[{}]", expr(base, POSTFIX), expr(index, TERNARY))
        }
        ExprKind::Unary { op, operand } => {
            let symbol = match op {
                UnaryOp::Negate => "-",
                UnaryOp::Not => "!",
                UnaryOp::BitNot => "~",
                UnaryOp::Deref => "*",
                UnaryOp::AddressOf => "&",
            };
            // `- -x` and `& &x` must not become `--x` and `&&x`.
            let nested_prefix = matches!(
                operand.kind,
                ExprKind::Unary { .. } | ExprKind::Increment { prefix: true, .. }
            );
            let min = if nested_prefix { POSTFIX } else { UNARY };
            return (format!("{symbol}{}", expr(operand, min)), UNARY);
        }
        ExprKind::Binary { op, left, right } => {
            let strength = precedence(*op);
            return (
                format!(
                    "{} {} {}",
                    expr(left, strength),
                    op.symbol(),
                    expr(right, strength + 1)
                ),
                strength,
            );
        }
        ExprKind::Ternary {
            condition,
            then,
            otherwise,
        } if then.id == condition.id => {
            return (
                format!(
                    "{} ?: {}",
                    expr(condition, TERNARY + 1),
                    expr(otherwise, TERNARY)
                ),
                TERNARY,
            )
        }
        ExprKind::NamedTuple(elements) => {
            let items: Vec<String> = elements
                .iter()
                .map(|(name, e)| format!("{} = {}", name.name, expr(e, TERNARY)))
                .collect();
            format!("({})", items.join(", "))
        }
        ExprKind::Block { body, value } => {
            let mut inner = Printer::default();
            for statement in &body.statements {
                inner.statement(statement);
            }
            // One line: strings are escaped, so line breaks are only the printer's.
            let statements = inner
                .out
                .lines()
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ");
            let separator = if statements.is_empty() { "" } else { " " };
            format!("{{ {statements}{separator}{} }}", expr(value, TERNARY))
        }
        ExprKind::Ternary {
            condition,
            then,
            otherwise,
        } => {
            return (
                format!(
                    "{} ? {} : {}",
                    expr(condition, TERNARY + 1),
                    expr(then, TERNARY),
                    expr(otherwise, TERNARY)
                ),
                TERNARY,
            )
        }
        ExprKind::Increment {
            target,
            decrement,
            prefix,
        } => {
            let symbol = if *decrement { "--" } else { "++" };
            let target = expr(target, POSTFIX);
            if *prefix {
                return (format!("{symbol}{target}"), UNARY);
            }
            format!("{target}{symbol}")
        }
        ExprKind::Cast { ty, operand } => {
            return (
                format!("({}){}", type_name(ty), expr(operand, UNARY)),
                UNARY,
            )
        }
        ExprKind::Tuple(elements) => match elements.as_slice() {
            [only] => format!("({},)", expr(only, TERNARY)),
            _ => format!("({})", list(elements)),
        },
        ExprKind::Type(ty) => type_name(ty),
        ExprKind::SizeofType(ty) => format!("sizeof({})", type_name(ty)),
        ExprKind::SizeofExpr(e) => format!("sizeof({})", expr(e, TERNARY)),
        ExprKind::Offsetof { ty, fields } => {
            let path: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
            format!("offsetof({}, {})", type_name(ty), path.join("."))
        }
    };
    (text, POSTFIX)
}

fn type_name(ty: &TypeName) -> String {
    let mut text = base_type(&ty.base);
    if ty.pointer_depth > 0 {
        text.push(' ');
        text.push_str(&"*".repeat(ty.pointer_depth as usize));
    }
    text.push_str(&array_suffix(ty));
    text
}

fn array_suffix(ty: &TypeName) -> String {
    ty.array_lens.iter().map(|n| format!("[{n}]")).collect()
}

/// `int x[2] : 3;`, with an anonymous record's body written in place.
fn field_decl(field: &FieldDecl, all: &[TypeDecl]) -> String {
    let bits = field
        .bit_width
        .map(|w| format!(" : {w}"))
        .unwrap_or_default();
    let stars = "*".repeat(field.ty.pointer_depth as usize);
    let array = array_suffix(&field.ty);
    let anonymous = match &field.ty.base {
        BaseType::Struct(n) | BaseType::Union(n) => all
            .iter()
            .find(|d| is_anonymous(d) && matches!(d, TypeDecl::Struct { name, .. } if name == n)),
        _ => None,
    };
    let base = match anonymous {
        Some(TypeDecl::Struct { union, fields, .. }) => {
            let keyword = if *union { "union" } else { "struct" };
            let body: Vec<String> = fields.iter().map(|f| field_decl(f, all)).collect();
            format!("{keyword} {{ {} }}", body.join(" "))
        }
        _ => base_type(&field.ty.base),
    };
    format!("{base} {stars}{}{array}{bits};", field.name)
}

fn is_anonymous(decl: &TypeDecl) -> bool {
    matches!(decl, TypeDecl::Struct { name, .. } if name.starts_with(ANONYMOUS_RECORD))
}

fn base_type(base: &BaseType) -> String {
    match base {
        BaseType::Integer { bits, signed } => {
            format!("{}int{bits}", if *signed { "" } else { "u" })
        }
        BaseType::Bool => "bool".to_string(),
        BaseType::String => "string".to_string(),
        BaseType::Void => "void".to_string(),
        BaseType::Struct(n) => format!("struct {n}"),
        BaseType::Union(n) => format!("union {n}"),
        BaseType::Enum(n) => format!("enum {n}"),
        BaseType::Named(n) => n.clone(),
        BaseType::Typeof(of) => match of.as_ref() {
            Typeof::Type(ty) => format!("typeof({})", type_name(ty)),
            Typeof::Expr(e) => format!("typeof({})", expr(e, TERNARY)),
        },
    }
}

/// A string literal the lexer reads back to `s`. NUL is `\x00`, not `\0`, so a digit after
/// it cannot join an octal escape.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_ascii_control() => {
                write!(out, "\\x{:02x}", c as u32).expect("writing to a String")
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use crate::testutil::{peer_programs, shape};

    /// Parses, prints, parses the print: both trees must have the same shape.
    fn round_trip(source: &str) -> String {
        let first = parse(source).unwrap_or_else(|e| panic!("{}", e.render("stdin", source)));
        let printed = print(&first);
        let second = parse(&printed)
            .unwrap_or_else(|e| panic!("{}\nprinted:\n{printed}", e.render("printed", &printed)));
        assert_eq!(shape(&first), shape(&second), "printed:\n{printed}");
        printed
    }

    #[test]
    fn prints_readable_source() {
        let printed = round_trip(
            "struct Foo { int a; char b[10]; } kprobe:f, kprobe:g /pid > 1/ { if ($x) { @[comm] = count(); } else if ($y) { $z = 1 } else { exit() } }",
        );
        assert_eq!(
            printed,
            "struct Foo {\n  int32 a;\n  int8 b[10];\n};\n\
             kprobe:f,\nkprobe:g /pid > 1/ {\n  if ($x) {\n    @[comm] = count();\n  } else if ($y) {\n    $z = 1;\n  } else {\n    exit();\n  }\n}\n"
        );
    }

    #[test]
    fn round_trips_every_construct() {
        for source in [
            "begin { $a = (1, (2, \"x\")); print($a.1.0); @m[1, \"a\"] += 2; @++; --$i; }",
            "begin { let $x: uint8 = 1; let $y; let $p: struct task_struct *; for ($i : 0..$n + 1) { break } for ($kv : @m) { continue } }",
            "begin { while ($i < 10) { unroll (2) { $i++ } } { $nested = 1 } return }",
            "i:s:1 /(arg0 / 2) == 1 && \"a/b\" == str(arg1)/ { printf(\"%s\\n\\t\\\"\\x01\", comm) }",
            "begin { $x = -(-1); $y = ~!*&$z; $w = (int8)-1 ? (uint64)2 : 3 ? 4 : 5; $v = (1 ? 2 : 3) ? 4 : 5; }",
            "begin { $s = sizeof(struct Foo) + sizeof($x) + offsetof(struct Foo, a.b); $t = (1,); }",
            "enum { A = -5, B }; enum E { X = 9223372036854775807 }; union U { u64 a; struct S *s; unsigned c : 3; } begin {}",
            "config = { a = 1; b = \"s\"; c = d } let @h = percpuhash(10); macro m($a, @b, c) { $a + 1 } begin { m(1, @x, y) }",
            "uprobe:/bin/bash:readline, usdt:./x:probe { print(args->x + args.y) }",
            "begin { $a = $b ?: 1 + 2; @ = { let $x = \"a  b\"; if $y { $z = 1 } avg(1) }; _ = { 1 } }",
            "begin { $v = (x = 1, y = (2, \"s\")); print((a = $v, b = 3,)); }",
            "macro m(t, e) { sizeof(t*) + sizeof((typeof(e))0) } begin { let $x: typeof(comm); m(typeof(struct Foo *), 1) }",
        ] {
            round_trip(source);
        }
    }

    #[test]
    fn shape_sees_the_tree_not_the_layout() {
        let shape_of = |s: &str| shape(&parse(s).expect("parses"));
        assert_eq!(
            shape_of("begin { $x = 1 + 2 }"),
            shape_of("begin\n{\n  $x   =  (1 + 2);\n}")
        );
        assert_ne!(
            shape_of("begin { $x = 1 + 2 }"),
            shape_of("begin { $x = 1 - 2 }")
        );
        assert_ne!(
            shape_of("begin { $x = 1 + 2 }"),
            shape_of("begin { $x = 1 + 3 }")
        );
    }

    #[test]
    fn strings_escape_what_the_lexer_decodes() {
        assert_eq!(quoted("\0\u{1}7\\\"\n"), r#""\x00\x017\\\"\n""#);
    }

    #[test]
    fn peer_programs_round_trip() {
        let mut count = 0;
        for program in peer_programs() {
            if parse(&program.text).is_ok() {
                round_trip(&program.text);
                count += 1;
            }
        }
        assert!(count > 400, "only {count} peer programs round-tripped");
    }
}
