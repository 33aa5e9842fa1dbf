//! Macro expansion, between parsing and the semantic pass: every call of a `macro`
//! (`name(args)`, or a bare `name` for one without parameters) becomes a copy of its body, a
//! block statement where the call is a statement, else a block expression worth the body's
//! last expression. As in bpftrace:
//! - a `$x` parameter takes a variable, by reference (the body's `$x` is the caller's);
//! - an `@x` parameter takes a map, renamed likewise; the body reaches no other map;
//! - an `x` parameter takes an expression, copied into every place the body names `x` (so it
//!   runs once per use); a variable or map given for it is wrapped in a block, read-only;
//! - the variables the body assigns or declares get hidden names (hygiene), one set per
//!   expansion;
//! - macros may call macros defined anywhere in the script, but not themselves;
//! - `NAME()` and `__builtin_NAME` are the builtin `NAME` (bpftrace's standard macros).
//!
//! Every span copied from a body names its expansion (`Span::expansion`), so messages about
//! it can add where the macro was called ([`explain`]).

use std::collections::{HashMap, HashSet};

use crate::ast::*;
use crate::diag::{Diagnostic, Diagnostics, Note, Span};
use crate::sema::builtins::Builtin;

/// Expands every macro call of `program`'s probes; the definitions are consumed.
pub fn expand(program: &mut Program) -> Result<(), Diagnostics> {
    let macros = std::mem::take(&mut program.macros);
    let mut errors = Diagnostics::default();
    let registry = Registry::new(&macros, &mut errors);
    let mut expander = Expander {
        registry: &registry,
        stack: Vec::new(),
        expansions: std::mem::take(&mut program.expansions),
        next_id: program.expr_count,
        errors,
    };
    for probe in &mut program.probes {
        if let Some(predicate) = &mut probe.predicate {
            expander.expr(predicate);
        }
        walk_block(&mut expander, &mut probe.body);
    }
    program.expr_count = expander.next_id;
    program.expansions = expander.expansions;
    match expander.errors.has_errors() {
        true => Err(expander.errors),
        false => Ok(()),
    }
}

/// Adds to each diagnostic about expanded code the calls it was expanded from, innermost
/// first (bpftrace's "expanded from" lines).
pub fn explain(mut diagnostics: Diagnostics, expansions: &[Span]) -> Diagnostics {
    for diagnostic in &mut diagnostics.0 {
        diagnostic
            .notes
            .extend(expanded_from(diagnostic.span, expansions));
    }
    diagnostics
}

/// The chain of macro calls `span` was copied through, as notes.
pub fn expanded_from(mut span: Span, expansions: &[Span]) -> Vec<Note> {
    let mut notes = Vec::new();
    // Each call site lies in an earlier expansion than the one it made: the chain ends.
    while let Some(&call) = (span.expansion as usize)
        .checked_sub(1)
        .and_then(|i| expansions.get(i))
    {
        notes.push(Note {
            span: call,
            message: "expanded from".to_owned(),
        });
        span = call;
    }
    notes
}

/// What a parameter takes, and what an argument is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Variable,
    Map,
    Expression,
}

impl Kind {
    /// A parameter's kind and its name without the sigil.
    fn of_param(param: &Ident) -> (Kind, &str) {
        if let Some(name) = param.name.strip_prefix('$') {
            (Kind::Variable, name)
        } else if let Some(name) = param.name.strip_prefix('@') {
            (Kind::Map, name)
        } else {
            (Kind::Expression, &param.name)
        }
    }

    fn of_arg(arg: &Expr) -> Kind {
        match arg.kind {
            ExprKind::Variable(_) => Kind::Variable,
            ExprKind::Map(_) => Kind::Map,
            _ => Kind::Expression,
        }
    }

    fn described(self) -> &'static str {
        match self {
            Kind::Variable => "a variable",
            Kind::Map => "a map",
            Kind::Expression => "an expression",
        }
    }
}

/// The macros by name; several may share one if their parameters tell them apart.
struct Registry<'m> {
    by_name: HashMap<&'m str, Vec<&'m Macro>>,
}

enum Lookup<'m> {
    Exact(&'m Macro),
    /// None fits; this one comes closest.
    Closest(&'m Macro),
    Unknown,
}

impl<'m> Registry<'m> {
    fn new(macros: &'m [Macro], errors: &mut Diagnostics) -> Self {
        let mut registry = Registry {
            by_name: HashMap::new(),
        };
        for m in macros {
            let kinds: Vec<Kind> = m.params.iter().map(|p| Kind::of_param(p).0).collect();
            if let Lookup::Exact(earlier) = registry.lookup(&m.name, &kinds) {
                let message = format!("Redefinition of macro: {}", m.name);
                errors.push(
                    Diagnostic::error(m.span, message)
                        .with_note(earlier.span, "This is the original definition."),
                );
                continue;
            }
            if valid_params(m, errors) {
                registry.by_name.entry(&m.name).or_default().push(m);
            }
        }
        registry
    }

    /// The first macro of that name whose parameters take `args`, else the closest.
    fn lookup(&self, name: &str, args: &[Kind]) -> Lookup<'m> {
        let Some(candidates) = self.by_name.get(name) else {
            return Lookup::Unknown;
        };
        let closest = candidates
            .iter()
            .min_by_key(|m| distance(m, args))
            .expect("a name is registered with a macro");
        match distance(closest, args) {
            0 => Lookup::Exact(closest),
            _ => Lookup::Closest(closest),
        }
    }
}

/// How badly `args` fit `m`: a missing or extra argument outweighs any mismatched kinds.
fn distance(m: &Macro, args: &[Kind]) -> usize {
    let mismatched = m
        .params
        .iter()
        .zip(args)
        .filter(|(p, a)| {
            let kind = Kind::of_param(p).0;
            kind != Kind::Expression && kind != **a
        })
        .count();
    1024 * m.params.len().abs_diff(args.len()) + mismatched
}

/// No parameter name twice, no builtin as an expression parameter.
fn valid_params(m: &Macro, errors: &mut Diagnostics) -> bool {
    let mut seen = HashSet::new();
    for param in &m.params {
        let (kind, name) = Kind::of_param(param);
        let what = match kind {
            Kind::Variable => "Variable",
            Kind::Map => "Map",
            Kind::Expression => "Ident",
        };
        if kind == Kind::Expression && Builtin::from_name(name).is_some() {
            let message = format!("syntax: builtin '{name}' can't be used as a macro argument");
            errors.push(Diagnostic::error(param.span, message));
            return false;
        }
        if !seen.insert(&param.name) {
            let message = format!(
                "{what} for macro argument has already been used: {}",
                param.name
            );
            errors.push(Diagnostic::error(param.span, message));
            return false;
        }
    }
    true
}

/// A walk over a tree that may change it in place; each method defaults to visiting the
/// children.
trait Visit {
    fn expr(&mut self, expr: &mut Expr) {
        walk_expr(self, expr);
    }

    fn statement(&mut self, statement: &mut Statement) {
        walk_statement(self, statement);
    }

    fn type_name(&mut self, ty: &mut TypeName) {
        walk_type_name(self, ty);
    }

    fn span(&mut self, _span: &mut Span) {}
}

/// A type's span, and what a `typeof(…)` in it names.
fn walk_type_name<V: Visit + ?Sized>(v: &mut V, ty: &mut TypeName) {
    v.span(&mut ty.span);
    if let BaseType::Typeof(of) = &mut ty.base {
        match of.as_mut() {
            Typeof::Type(inner) => v.type_name(inner),
            Typeof::Expr(e) => v.expr(e),
        }
    }
}

fn walk_block<V: Visit + ?Sized>(v: &mut V, block: &mut Block) {
    v.span(&mut block.span);
    for statement in &mut block.statements {
        v.statement(statement);
    }
}

fn walk_statement<V: Visit + ?Sized>(v: &mut V, statement: &mut Statement) {
    v.span(&mut statement.span);
    match &mut statement.kind {
        StatementKind::Expr(e) | StatementKind::Return(Some(e)) => v.expr(e),
        StatementKind::Assign { target, value, .. } => {
            v.expr(target);
            v.expr(value);
        }
        StatementKind::Let {
            variable,
            ty,
            value,
        } => {
            v.span(&mut variable.span);
            if let Some(ty) = ty {
                v.type_name(ty);
            }
            if let Some(value) = value {
                v.expr(value);
            }
        }
        StatementKind::If {
            condition,
            then,
            otherwise,
        } => {
            v.expr(condition);
            walk_block(v, then);
            if let Some(otherwise) = otherwise {
                walk_block(v, otherwise);
            }
        }
        StatementKind::While { condition, body } => {
            v.expr(condition);
            walk_block(v, body);
        }
        StatementKind::Unroll { count, body } => {
            v.expr(count);
            walk_block(v, body);
        }
        StatementKind::For {
            variable,
            iterable,
            body,
        } => {
            v.span(&mut variable.span);
            match iterable {
                Iterable::Map(map) => v.span(&mut map.span),
                Iterable::Range { start, end } => {
                    v.expr(start);
                    v.expr(end);
                }
            }
            walk_block(v, body);
        }
        StatementKind::Block(block) => walk_block(v, block),
        StatementKind::Return(None) | StatementKind::Break | StatementKind::Continue => {}
    }
}

fn walk_expr<V: Visit + ?Sized>(v: &mut V, expr: &mut Expr) {
    v.span(&mut expr.span);
    match &mut expr.kind {
        ExprKind::Integer { .. }
        | ExprKind::String(_)
        | ExprKind::Bool(_)
        | ExprKind::Variable(_)
        | ExprKind::Map(_)
        | ExprKind::Identifier(_)
        | ExprKind::Positional(_)
        | ExprKind::PositionalCount => {}
        ExprKind::MapIndex { map, keys } => {
            v.span(&mut map.span);
            keys.iter_mut().for_each(|k| v.expr(k));
        }
        ExprKind::Call { function, args } => {
            v.span(&mut function.span);
            args.iter_mut().for_each(|a| v.expr(a));
        }
        ExprKind::Field { base, field, .. } => {
            v.expr(base);
            v.span(&mut field.span);
        }
        ExprKind::TupleIndex { base, .. } => v.expr(base),
        ExprKind::Index { base, index } => {
            v.expr(base);
            v.expr(index);
        }
        ExprKind::Unary { operand, .. } => v.expr(operand),
        ExprKind::Binary { left, right, .. } => {
            v.expr(left);
            v.expr(right);
        }
        ExprKind::Ternary {
            condition,
            then,
            otherwise,
        } => {
            v.expr(condition);
            v.expr(then);
            v.expr(otherwise);
        }
        ExprKind::Increment { target, .. } => v.expr(target),
        ExprKind::Cast { ty, operand } => {
            v.type_name(ty);
            v.expr(operand);
        }
        ExprKind::Block { body, value } => {
            walk_block(v, body);
            v.expr(value);
        }
        ExprKind::NamedTuple(elements) => {
            for (name, e) in elements {
                v.span(&mut name.span);
                v.expr(e);
            }
        }
        ExprKind::Tuple(elements) => elements.iter_mut().for_each(|e| v.expr(e)),
        ExprKind::Type(ty) | ExprKind::SizeofType(ty) => v.type_name(ty),
        ExprKind::SizeofExpr(e) => v.expr(e),
        ExprKind::Offsetof { ty, fields } => {
            v.type_name(ty);
            fields.iter_mut().for_each(|f| v.span(&mut f.span));
        }
    }
}

/// Finds macro calls and puts their bodies in their place.
struct Expander<'m> {
    registry: &'m Registry<'m>,
    /// The macros being expanded, outermost first (a call of one of them is recursion).
    stack: Vec<&'m Macro>,
    expansions: Vec<Span>,
    next_id: u32,
    errors: Diagnostics,
}

impl Visit for Expander<'_> {
    fn expr(&mut self, expr: &mut Expr) {
        let Some((body, value)) = self.expansion(expr) else {
            return;
        };
        match value {
            // A body that is only its value is that value (`printf(fmt())` keeps a literal).
            Some(value) if body.statements.is_empty() => *expr = value,
            Some(value) => {
                expr.kind = ExprKind::Block {
                    body,
                    value: Box::new(value),
                }
            }
            None => {
                let name = self.stack_name(expr);
                let message = format!(
                    "Macro {name}() has no value: its body does not end with an expression (without ;)"
                );
                self.error(Diagnostic::error(expr.span, message));
            }
        }
    }

    fn statement(&mut self, statement: &mut Statement) {
        let StatementKind::Expr(expr) = &mut statement.kind else {
            return walk_statement(self, statement);
        };
        if let Some((mut body, value)) = self.expansion(expr) {
            body.statements.extend(value.map(|value| Statement {
                span: value.span,
                kind: StatementKind::Expr(value),
            }));
            statement.kind = StatementKind::Block(body);
        }
    }
}

impl<'m> Expander<'m> {
    /// Expands inside `expr`; if `expr` itself calls a macro, the body for its place (the
    /// statements and the value), itself expanded.
    fn expansion(&mut self, expr: &mut Expr) -> Option<(Block, Option<Expr>)> {
        walk_expr(self, expr);
        let (name, args): (&str, &[Expr]) = match &expr.kind {
            ExprKind::Call { function, args } => (&function.name, args),
            ExprKind::Identifier(name) => (name, &[]),
            _ => return None,
        };
        let kinds: Vec<Kind> = args.iter().map(Kind::of_arg).collect();
        let m = match self.registry.lookup(name, &kinds) {
            Lookup::Exact(m) => m,
            // A builtin of the same name stays what it is (bpftrace's standard macros).
            Lookup::Unknown => return builtin_wrapper(expr),
            Lookup::Closest(_) if Builtin::from_name(name).is_some() => {
                return builtin_wrapper(expr);
            }
            Lookup::Closest(m) => {
                self.mismatch(expr.span, m, args);
                return None;
            }
        };
        if let Some(first) = self.stack.iter().position(|s| std::ptr::eq(*s, m)) {
            let chain: Vec<&str> = self.stack[first..]
                .iter()
                .map(|s| s.name.as_str())
                .chain([m.name.as_str()])
                .collect();
            let message = format!(
                "Recursive macro call detected. Call chain: {}",
                chain.join(" > ")
            );
            self.error(Diagnostic::error(expr.span, message));
            return None;
        }
        self.expansions.push(expr.span);
        let expansion = self.expansions.len() as u32;
        let mut copy = Instantiation {
            macro_name: &m.name,
            expansion,
            variables: HashMap::new(),
            maps: HashMap::new(),
            exprs: HashMap::new(),
            renamed: HashSet::new(),
            next_id: &mut self.next_id,
            errors: &mut self.errors,
        };
        for (param, arg) in m.params.iter().zip(args) {
            let (kind, param_name) = Kind::of_param(param);
            match (kind, &arg.kind) {
                (Kind::Variable, ExprKind::Variable(caller)) => {
                    copy.variables.insert(param_name.to_owned(), caller.clone());
                }
                (Kind::Map, ExprKind::Map(caller)) => {
                    copy.maps.insert(param_name.to_owned(), caller.clone());
                }
                _ => {
                    let arg = match arg.kind {
                        // Read-only: a block cannot be assigned to.
                        ExprKind::Variable(_) | ExprKind::Map(_) => Expr {
                            id: arg.id,
                            kind: ExprKind::Block {
                                body: Block {
                                    statements: Vec::new(),
                                    span: arg.span,
                                },
                                value: Box::new(arg.clone()),
                            },
                            span: arg.span,
                        },
                        _ => arg.clone(),
                    };
                    copy.exprs.insert(param_name.to_owned(), arg);
                }
            }
        }
        let mut body = m.body.clone();
        walk_block(&mut copy, &mut body);
        let mut value = m.value.clone();
        if let Some(value) = &mut value {
            copy.expr(value);
        }
        self.stack.push(m);
        walk_block(self, &mut body);
        if let Some(value) = &mut value {
            self.expr(value);
        }
        self.stack.pop();
        Some((body, value))
    }

    /// The name a call or bare identifier uses.
    fn stack_name(&self, expr: &Expr) -> String {
        match &expr.kind {
            ExprKind::Call { function, .. } => function.name.clone(),
            ExprKind::Identifier(name) => name.clone(),
            _ => String::new(),
        }
    }

    /// A call no definition of its name takes: how it differs from the closest.
    fn mismatch(&mut self, span: Span, closest: &Macro, args: &[Expr]) {
        let name = &closest.name;
        let call = Diagnostic::error(
            span,
            format!("Call to {name}() has arguments that do not match any definition."),
        );
        if closest.params.len() != args.len() {
            let note = format!(
                "The closest definition of {name}() has a different number of arguments. Expected: {} but got {}",
                closest.params.len(),
                args.len()
            );
            self.error(call.with_note(closest.span, note));
            return;
        }
        self.error(call);
        for (param, arg) in closest.params.iter().zip(args) {
            let (kind, got) = (Kind::of_param(param).0, Kind::of_arg(arg));
            if kind == Kind::Expression || kind == got {
                continue;
            }
            let message = format!(
                "Mismatched arg. {name}() expects {} for arg {} but got {}.",
                kind.described(),
                param.name,
                got.described()
            );
            self.error(Diagnostic::error(arg.span, message).with_note(
                param.span,
                "This is the argument in the closest definition.",
            ));
        }
    }

    /// An error, once: an argument copied into several places is expanded again in each.
    fn error(&mut self, diagnostic: Diagnostic) {
        if !self.errors.0.contains(&diagnostic) {
            self.errors.push(diagnostic);
        }
    }
}

/// Turns a copy of a macro's body into the code of one call: spans name the expansion,
/// expressions get fresh ids, parameters are replaced, the body's own variables renamed.
struct Instantiation<'a> {
    macro_name: &'a str,
    expansion: u32,
    /// `$x` parameter → the caller's variable; `@x` parameter → the caller's map.
    variables: HashMap<String, String>,
    maps: HashMap<String, String>,
    /// `x` parameter → the expression given for it.
    exprs: HashMap<String, Expr>,
    /// The body's own variables seen so far (assigned or declared).
    renamed: HashSet<String>,
    next_id: &'a mut u32,
    errors: &'a mut Diagnostics,
}

impl Visit for Instantiation<'_> {
    fn expr(&mut self, expr: &mut Expr) {
        match &mut expr.kind {
            ExprKind::Identifier(name) => {
                if let Some(arg) = self.exprs.get(name) {
                    // The caller's code, as the caller wrote it: only the ids are new.
                    *expr = arg.clone();
                    Renumber(self.next_id).expr(expr);
                    return;
                }
            }
            ExprKind::Variable(name) => *name = self.variable(name),
            ExprKind::Map(name) => *name = self.map(name, expr.span),
            ExprKind::MapIndex { map, .. } => map.name = self.map(&map.name, map.span),
            _ => {}
        }
        expr.id = fresh_id(self.next_id);
        walk_expr(self, expr);
    }

    fn statement(&mut self, statement: &mut Statement) {
        match &mut statement.kind {
            StatementKind::Assign {
                target:
                    Expr {
                        kind: ExprKind::Variable(name),
                        ..
                    },
                ..
            } if !self.variables.contains_key(name) => {
                self.renamed.insert(name.clone());
            }
            StatementKind::Let { variable, .. } => {
                if self.variables.contains_key(&variable.name) {
                    let message =
                        format!("Variable declaration shadows macro arg ${}", variable.name);
                    self.errors
                        .push(Diagnostic::error(self.expanded(statement.span), message));
                } else {
                    self.renamed.insert(variable.name.clone());
                    variable.name = self.variable(&variable.name);
                }
            }
            StatementKind::For {
                variable, iterable, ..
            } => {
                self.renamed.insert(variable.name.clone());
                variable.name = self.variable(&variable.name);
                if let Iterable::Map(map) = iterable {
                    map.name = self.map(&map.name, map.span);
                }
            }
            _ => {}
        }
        walk_statement(self, statement);
    }

    /// A parameter named where a type goes (`sizeof(t*)`, `(t)x`) is the type its argument
    /// names: `typeof(…)` as given, or the type of any other expression.
    fn type_name(&mut self, ty: &mut TypeName) {
        if let BaseType::Named(name) = &ty.base {
            if let Some(arg) = self.exprs.get(name) {
                let mut arg = arg.clone();
                Renumber(self.next_id).expr(&mut arg);
                ty.base = BaseType::Typeof(Box::new(match arg.kind {
                    ExprKind::Type(given) => Typeof::Type(given),
                    _ => Typeof::Expr(arg),
                }));
                return;
            }
        }
        walk_type_name(self, ty);
    }

    fn span(&mut self, span: &mut Span) {
        *span = self.expanded(*span);
    }
}

impl Instantiation<'_> {
    fn expanded(&self, span: Span) -> Span {
        Span {
            expansion: self.expansion,
            ..span
        }
    }

    /// The name a variable of the body has in the expansion: the caller's for a `$x`
    /// parameter, a hidden one (no script can write a `$` in a name) for the body's own.
    fn variable(&self, name: &str) -> String {
        if let Some(caller) = self.variables.get(name) {
            return caller.clone();
        }
        if self.renamed.contains(name) {
            return format!("${}_{}_{name}", self.macro_name, self.expansion);
        }
        name.to_owned()
    }

    /// The caller's map for an `@x` parameter; any other map is out of the body's reach.
    fn map(&mut self, name: &str, span: Span) -> String {
        if let Some(caller) = self.maps.get(name) {
            return caller.clone();
        }
        let message = format!(
            "Unhygienic access to map: @{name}. Maps must be passed into the macro as arguments."
        );
        let diagnostic = Diagnostic::error(self.expanded(span), message);
        if !self.errors.0.contains(&diagnostic) {
            self.errors.push(diagnostic);
        }
        name.to_owned()
    }
}

/// bpftrace's standard library wraps each builtin variable in macros: `NAME()` and
/// `__builtin_NAME` are `NAME`. Rewritten in place; never an expansion.
fn builtin_wrapper(expr: &mut Expr) -> Option<(Block, Option<Expr>)> {
    let name = match &expr.kind {
        ExprKind::Call { function, args } if args.is_empty() => function.name.as_str(),
        ExprKind::Identifier(name) => name.strip_prefix("__builtin_")?,
        _ => return None,
    };
    if Builtin::from_name(name).is_some() {
        expr.kind = ExprKind::Identifier(name.to_owned());
    }
    None
}

fn fresh_id(next: &mut u32) -> ExprId {
    *next += 1;
    ExprId(*next - 1)
}

/// Fresh ids for a copy of an expression, nothing else changed.
struct Renumber<'a>(&'a mut u32);

impl Visit for Renumber<'_> {
    fn expr(&mut self, expr: &mut Expr) {
        expr.id = fresh_id(self.0);
        walk_expr(self, expr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::print;

    /// The program after expansion, printed.
    fn expanded(source: &str) -> String {
        let mut program = crate::parse(source).expect("parses");
        if let Err(e) = expand(&mut program) {
            panic!("{}", e.render("stdin", source));
        }
        assert!(program.macros.is_empty(), "definitions consumed");
        print(&program)
    }

    /// The errors of expansion, rendered with the calls they were expanded from.
    fn errors(source: &str) -> String {
        let mut program = crate::parse(source).expect("parses");
        let errors = expand(&mut program).expect_err("expansion fails");
        explain(errors, &program.expansions).render("stdin", source)
    }

    /// One line, single spaces: the printer's layout does not matter here.
    fn flat(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn variable_parameters_are_the_callers_variables() {
        let out = flat(&expanded(
            "macro inc($x) { $x += 1; } begin { $a = 1; inc($a); print($a); }",
        ));
        assert!(out.contains("$a = 1; { $a += 1; } print($a);"), "{out}");
    }

    #[test]
    fn a_value_makes_a_block_expression() {
        let out = flat(&expanded(
            "macro inc($x) { $x += 1; $x } begin { $a = 1; $b = inc($a); }",
        ));
        assert!(out.contains("$b = { $a += 1; $a };"), "{out}");
    }

    #[test]
    fn expression_parameters_are_copied_to_each_use_and_variables_read_only() {
        let out = flat(&expanded(
            "macro twice(x) { x + x } begin { $a = 1; @m = 2; print(twice($a)); print(twice(@m + 1)); }",
        ));
        assert!(out.contains("print({ $a } + { $a });"), "{out}");
        // The tree keeps the grouping the text would need parentheses for.
        assert!(out.contains("print(@m + 1 + (@m + 1));"), "{out}");
    }

    #[test]
    fn maps_are_renamed_and_other_maps_refused() {
        let out = flat(&expanded(
            "macro set(@x) { @x[1] = 2; for ($kv : @x) { print($kv); } } begin { set(@a); }",
        ));
        assert!(out.contains("@a[1] = 2; for ($$set_1_kv : @a)"), "{out}");
        assert!(out.contains("print($$set_1_kv)"), "{out}");
        assert_eq!(
            errors("macro set() { @x = 1; } begin { set(); }"),
            "stdin:1:15-17: ERROR: Unhygienic access to map: @x. Maps must be passed into the macro as arguments.\n\
             macro set() { @x = 1; } begin { set(); }\n              ~~\n\
             stdin:1:33-38: ERROR: expanded from\n\
             macro set() { @x = 1; } begin { set(); }\n                                ~~~~~"
        );
    }

    #[test]
    fn the_bodys_own_variables_are_hidden_per_expansion() {
        let out = flat(&expanded(
            "macro inc(x) { let $y = x + 1; $y } begin { $y = 2; $z = inc(5) + inc(6); print($y); }",
        ));
        assert!(out.contains("$y = 2;"), "{out}");
        assert!(
            out.contains("{ let $$inc_1_y = 5 + 1; $$inc_1_y }"),
            "{out}"
        );
        assert!(
            out.contains("{ let $$inc_2_y = 6 + 1; $$inc_2_y }"),
            "{out}"
        );
        assert!(out.contains("print($y);"), "{out}");
    }

    #[test]
    fn macros_call_macros_in_any_order_and_parameters_shadow_macros() {
        let out = flat(&expanded(
            "macro add2(x) { x + add1(x) } macro add1(x) { x + 1 } macro one() { 1 } macro id(one) { one } begin { print(add2(1)); print(id(2)); print(one); }",
        ));
        assert!(out.contains("print(1 + (1 + 1));"), "{out}");
        assert!(out.contains("print(2);"), "{out}");
        assert!(out.contains("print(1);"), "{out}");
    }

    #[test]
    fn builtins_through_their_wrappers() {
        let out = flat(&expanded(
            "macro cpu(x) { x } begin { print((cpu(), __builtin_pid, cpu(3), exit())); }",
        ));
        assert!(out.contains("print((cpu, pid, 3, exit()));"), "{out}");
    }

    #[test]
    fn every_expression_keeps_an_id_of_its_own() {
        let mut program = crate::parse("macro f(x) { $t = x; x + $t } begin { $a = f(f(1) + 2); }")
            .expect("parses");
        expand(&mut program).expect("expands");
        struct Ids(Vec<u32>);
        impl Visit for Ids {
            fn expr(&mut self, expr: &mut Expr) {
                self.0.push(expr.id.0);
                walk_expr(self, expr);
            }
        }
        let mut ids = Ids(Vec::new());
        walk_block(&mut ids, &mut program.probes[0].body);
        let count = ids.0.len();
        ids.0.sort_unstable();
        ids.0.dedup();
        assert_eq!(ids.0.len(), count, "ids repeat");
        assert!(ids.0.iter().all(|&id| id < program.expr_count));
    }

    #[test]
    fn recursion_is_refused_with_the_chain() {
        let out = errors("macro a(x) { b(x) } macro b(x) { a(x) } begin { a(1); }");
        assert!(
            out.starts_with(
                "stdin:1:34-38: ERROR: Recursive macro call detected. Call chain: a > b > a\n"
            ),
            "{out}"
        );
        // The inner call sits in b's body, expanded in a's body, expanded in the probe.
        assert_eq!(out.matches("ERROR: expanded from").count(), 2, "{out}");
    }

    #[test]
    fn arguments_of_the_wrong_kind() {
        assert_eq!(
            errors("macro m(@x, $y) { 1 } begin { m(@a, 2); }"),
            "stdin:1:31-39: ERROR: Call to m() has arguments that do not match any definition.\n\
             macro m(@x, $y) { 1 } begin { m(@a, 2); }\n                              ~~~~~~~~\n\
             stdin:1:37-38: ERROR: Mismatched arg. m() expects a variable for arg $y but got an expression.\n\
             macro m(@x, $y) { 1 } begin { m(@a, 2); }\n                                    ~\n\
             stdin:1:13-15: ERROR: This is the argument in the closest definition.\n\
             macro m(@x, $y) { 1 } begin { m(@a, 2); }\n            ~~"
        );
        let out = errors("macro m($x) { 1 } begin { $v = m; }");
        assert!(
            out.contains("ERROR: Call to m() has arguments that do not match any definition."),
            "{out}"
        );
        assert!(out.contains("stdin:1:1-8: ERROR: The closest definition of m() has a different number of arguments. Expected: 1 but got 0"), "{out}");
    }

    #[test]
    fn bad_definitions() {
        let out = errors("macro m(x) { 1 } macro m(y) { 2 } begin { m(1); }");
        assert!(
            out.starts_with("stdin:1:18-25: ERROR: Redefinition of macro: m\n"),
            "{out}"
        );
        assert!(
            out.contains("stdin:1:1-8: ERROR: This is the original definition."),
            "{out}"
        );
        // Different parameters tell overloads apart.
        let out = flat(&expanded(
            "macro m($x) { 1 } macro m(@x) { 2 } macro m(x) { 3 } begin { $a = 0; print((m($a), m(@b), m(4))); }",
        ));
        assert!(out.contains("print((1, 2, 3));"), "{out}");
        assert!(errors("macro m($x, $x) { 1 } begin { }")
            .contains("ERROR: Variable for macro argument has already been used: $x"));
        assert!(errors("macro m(pid) { 1 } begin { }")
            .contains("ERROR: syntax: builtin 'pid' can't be used as a macro argument"));
        assert!(errors("macro m($x) { let $x; 1 } begin { $y = 1; m($y); }")
            .contains("ERROR: Variable declaration shadows macro arg $x"));
    }

    #[test]
    fn a_macro_without_a_value_in_an_expression() {
        let out = errors("macro m() { exit(); } begin { $x = m(); }");
        assert!(
            out.starts_with("stdin:1:36-39: ERROR: Macro m() has no value"),
            "{out}"
        );
    }
}
