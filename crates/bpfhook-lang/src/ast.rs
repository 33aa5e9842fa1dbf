//! The syntax tree of a bpftrace program, as the parser builds it. Every expression has an id
//! (its index in parse order) so later passes keep their facts about it (types, map shapes)
//! in side tables instead of mutating the tree.

use crate::diag::Span;

/// A whole script: declarations, then probes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Program {
    /// `struct Foo { int a; char b[10]; }`, `union …`, `enum Foo { A = 1, B }`.
    pub types: Vec<TypeDecl>,
    /// `let @a = hash(100);` before the probes.
    pub map_decls: Vec<MapDecl>,
    /// `config = { max_strlen = 128 }`.
    pub config: Vec<ConfigItem>,
    /// `macro name($a, b) { … }`, expanded into the probes by `macros::expand`.
    pub macros: Vec<Macro>,
    pub probes: Vec<Probe>,
    /// How many expression ids were handed out (side tables can be `Vec`s of this length).
    pub expr_count: u32,
    /// The macro calls expanded, by `Span::expansion` (1 is the first): where each call was
    /// (its own span names the expansion it sits in, if any).
    pub expansions: Vec<Span>,
}

/// `probe_a, probe_b /predicate/ { body }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub attach_points: Vec<AttachPoint>,
    pub predicate: Option<Expr>,
    pub body: Block,
    pub span: Span,
}

/// One attach point as written (`tracepoint:syscalls:sys_enter_*`, `i:ms:100`, `BEGIN`,
/// `uprobe:/bin/bash:readline`, `kprobe:vfs_read+16`); `probes.rs` gives it meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachPoint {
    pub raw: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub statements: Vec<Statement>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub kind: StatementKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StatementKind {
    /// `expr;` — calls such as `printf(…)`, `@x++`.
    Expr(Expr),
    /// `target = value`, `target op= value`; `let $x = value` sets `declare`.
    Assign {
        target: Expr,
        op: Option<BinaryOp>,
        value: Expr,
    },
    /// `let $x;` or `let $x: type;` or `let $x: type = value;` (the latter also arrives as
    /// `Let` with a value).
    Let {
        variable: Ident,
        ty: Option<TypeName>,
        value: Option<Expr>,
    },
    If {
        condition: Expr,
        then: Block,
        otherwise: Option<Block>,
    },
    While {
        condition: Expr,
        body: Block,
    },
    /// `unroll (N) { … }`: N is a constant expression.
    Unroll {
        count: Expr,
        body: Block,
    },
    /// `for ($kv : @map) { … }` or `for ($i : start..end) { … }`.
    For {
        variable: Ident,
        iterable: Iterable,
        body: Block,
    },
    Return(Option<Expr>),
    Break,
    Continue,
    /// A nested `{ … }`.
    Block(Block),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Iterable {
    Map(Ident),
    Range { start: Expr, end: Expr },
}

/// A name with its place in the text: `$x` (without the `$`), `@m` (without the `@`; `""` for
/// the anonymous `@`), a builtin or function name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExprId(pub u32);

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub id: ExprId,
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// An integer literal; `suffix` keeps what followed the digits (`u8`, `ns`, …) if anything.
    /// A time unit scales `value` to nanoseconds (`100ms` is 100000000), as in bpftrace.
    Integer {
        value: u64,
        suffix: Option<String>,
    },
    /// A string literal, escapes already decoded.
    String(String),
    Bool(bool),
    /// `$x`.
    Variable(String),
    /// `@m` or `@` (name `""`); the keys of `@m[a, b]` are in `MapIndex`.
    Map(String),
    /// `@m[k]`, `@m[a, b]` (several keys form a tuple key).
    MapIndex {
        map: Ident,
        keys: Vec<Expr>,
    },
    /// A bare identifier: a builtin (`pid`, `comm`, `args`, `arg0`, `retval`…) or an enum value.
    Identifier(String),
    /// `$1`, `$2`, …
    Positional(u32),
    /// `$#`.
    PositionalCount,
    /// `name(args…)`.
    Call {
        function: Ident,
        args: Vec<Expr>,
    },
    /// `e.field` (`arrow` false) or `e->field` (`arrow` true).
    Field {
        base: Box<Expr>,
        field: Ident,
        arrow: bool,
    },
    /// `e.0`: a tuple element.
    TupleIndex {
        base: Box<Expr>,
        index: u32,
    },
    /// `e[i]`: an array, pointer or tuple element.
    Index {
        base: Box<Expr>,
        index: Box<Expr>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `c ? a : b`.
    Ternary {
        condition: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    /// `++x`, `x++`, `--x`, `x--` on a variable or map element.
    Increment {
        target: Box<Expr>,
        decrement: bool,
        prefix: bool,
    },
    /// `(type) e`.
    Cast {
        ty: TypeName,
        operand: Box<Expr>,
    },
    /// `{ statements; value }`: the statements run, then the block is worth `value`.
    Block {
        body: Block,
        value: Box<Expr>,
    },
    /// `(x = a, y = b)`: a tuple whose elements have names (a record).
    NamedTuple(Vec<(Ident, Expr)>),
    /// `(a, b, …)` with at least two elements (or `(a,)`).
    Tuple(Vec<Expr>),
    /// A type where a value could stand: `typeof(…)` given to a macro, which the macro's
    /// body uses in `sizeof`, casts and declarations.
    Type(TypeName),
    /// `sizeof(type)`.
    SizeofType(TypeName),
    /// `sizeof(expr)`.
    SizeofExpr(Box<Expr>),
    /// `offsetof(struct Foo, a.b)` / `offsetof(expr, a)`.
    Offsetof {
        ty: TypeName,
        fields: Vec<Ident>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-e`
    Negate,
    /// `!e`
    Not,
    /// `~e`
    BitNot,
    /// `*e`
    Deref,
    /// `&e`
    AddressOf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::BitAnd => "&",
            BinaryOp::BitOr => "|",
            BinaryOp::BitXor => "^",
            BinaryOp::Shl => "<<",
            BinaryOp::Shr => ">>",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::And => "&&",
            BinaryOp::Or => "||",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }
}

/// A type as written in a cast, a declaration or `sizeof`.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeName {
    pub base: BaseType,
    /// Number of `*`s after the base.
    pub pointer_depth: u32,
    /// `int8[4]`, `int y[2][3]`: the array lengths, outermost first (empty: not an array).
    pub array_lens: Vec<u32>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BaseType {
    /// `int8`…`int64`, `uint8`…`uint64`, `u8`…`u64`, `s8`…`s64`, also C's `int`, `char`,
    /// `long`, `unsigned int`… normalised to width and sign.
    Integer {
        bits: u8,
        signed: bool,
    },
    Bool,
    /// `string` (optionally `string[N]` via `array_len`).
    String,
    Void,
    Struct(String),
    Union(String),
    Enum(String),
    /// A type name the parser does not know (a typedef such as `pid_t`, resolved through BTF).
    Named(String),
    /// `typeof(…)`.
    Typeof(Box<Typeof>),
}

/// What `typeof(…)` names: a type written out, or the type of an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Typeof {
    Type(TypeName),
    Expr(Expr),
}

/// `struct Foo { int a; char b[10]; }` and friends at the top of a script.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeDecl {
    Struct {
        name: String,
        union: bool,
        fields: Vec<FieldDecl>,
        span: Span,
    },
    Enum {
        name: String,
        variants: Vec<(String, i64)>,
        span: Span,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldDecl {
    pub name: String,
    pub ty: TypeName,
    /// `unsigned int a:4`: the width of a bit field.
    pub bit_width: Option<u32>,
    pub span: Span,
}

/// `let @name = kind(max_entries);` (`hash`, `lruhash`, `percpuhash`, `percpulruhash`,
/// `percpuarray`…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapDecl {
    pub name: String,
    pub kind: String,
    pub max_entries: u64,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConfigItem {
    pub key: String,
    pub value: ConfigValue,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigValue {
    Integer(u64),
    String(String),
    Ident(String),
}

/// `macro name(params) { body }`: each param keeps its sigil in `name` (`$x` a variable, `@m`
/// a map, `x` an expression).
#[derive(Debug, Clone, PartialEq)]
pub struct Macro {
    pub name: String,
    pub params: Vec<Ident>,
    pub body: Block,
    /// The body's last expression when no `;` follows it: what a call is worth.
    pub value: Option<Expr>,
    /// `macro name`, where messages about the definition point.
    pub span: Span,
}

/// Nanoseconds in one of a duration literal's units (`ns us ms s m h d`).
pub fn time_unit_ns(suffix: &str) -> Option<u64> {
    Some(match suffix {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ => return None,
    })
}
