//! bpfhook-lang: the bpftrace language compiled by our own code, without LLVM.
//!
//! text → [`lexer`] (constants of C headers through [`headers`]) → [`parser`] ([`ast`], spans in [`diag`]; [`printer`] writes a tree back)
//! → [`macros`] (calls of macros replaced by their bodies) → [`probes`] (attach points expanded) → [`sema`] (types, map shapes, probe contexts) →
//! [`codegen`] (one program per probe, onto `bpfhook::asm`) → [`runtime`] (the Manager loads
//! and attaches; records become lines and maps print as bpftrace prints them, through
//! [`output`]).

pub mod ast;
pub mod codegen;
pub mod diag;
pub mod headers;
pub mod lexer;
pub mod macros;
pub mod output;
pub mod parser;
pub mod printer;
pub mod probes;
pub mod runtime;
pub mod sema;
#[cfg(test)]
mod testutil;
pub mod types;

pub use parser::parse;

use diag::{Diagnostic, Diagnostics};

/// A script that did not compile: every diagnostic, rendered with its source line.
#[derive(Debug, thiserror::Error)]
#[error("{rendered}")]
pub struct CompileError {
    pub diagnostics: Diagnostics,
    pub rendered: String,
}

/// A compiled script, ready for [`runtime::run`].
pub struct Script {
    pub compiled: codegen::Compiled,
    pub analysis: sema::Analysis,
    /// Warnings, rendered (printed before the script runs).
    pub warnings: String,
}

/// Parses, checks and generates code for `source` (`source_name` is what errors call it:
/// `stdin` for `-e`, else the file name).
pub fn compile(
    source_name: &str,
    source: &str,
    settings: sema::Settings,
) -> Result<Script, CompileError> {
    let fail = |diagnostics: Diagnostics| CompileError {
        rendered: diagnostics.render(source_name, source),
        diagnostics,
    };
    let headers = headers::Headers::new(&settings.includes);
    headers
        .include_command_line(&settings.includes.files)
        .map_err(|missing| {
            let file = &missing.0;
            fail(Diagnostics(vec![Diagnostic::plain(format!(
                "--include {file}: {missing}"
            ))]))
        })?;
    let mut program = parser::parse_with_headers(source, &headers).map_err(fail)?;
    macros::expand(&mut program).map_err(|d| fail(macros::explain(d, &program.expansions)))?;
    let expansions = std::mem::take(&mut program.expansions);
    let fail = |diagnostics: Diagnostics| fail(macros::explain(diagnostics, &expansions));
    let missing_probes = MissingProbes::of(&program.config);
    let mut errors = Diagnostics::default();
    let mut skipped = Diagnostics::default();
    let mut instances = Vec::new();
    let mut bench_names = std::collections::HashSet::new();
    for probe in &mut program.probes {
        let mut expanded = Vec::new();
        for point in &mut probe.attach_points {
            point.raw = substitute_positional(&point.raw, &settings.positional);
            match expand_in_process(point, settings.pid) {
                Ok(found) => expanded.extend(found.into_iter().filter(|p| {
                    if let probes::ProbeKind::Bench { name } = &p.kind {
                        if !bench_names.insert(name.clone()) {
                            let message = format!(
                                "\"{name}\" was used as the name for more than one BENCH probe"
                            );
                            errors.push(Diagnostic::error(point.span, message));
                        }
                    }
                    p.is_run_once()
                        || settings
                            .probe_filter
                            .as_ref()
                            .is_none_or(|f| f.is_match(&p.name))
                })),
                Err(e) if e.missing && missing_probes == MissingProbes::Warn => {
                    let message = format!("{} Skipping.", e.diagnostic.message);
                    skipped.push(Diagnostic::warning(e.diagnostic.span, message));
                }
                Err(e) if e.missing && missing_probes == MissingProbes::Ignore => {}
                Err(e) => errors.push(e.diagnostic),
            }
        }
        instances.push(expanded);
    }
    if errors.has_errors() {
        return Err(fail(errors));
    }
    if instances.iter().all(Vec::is_empty) {
        return Err(fail(Diagnostics(vec![Diagnostic::error(
            diag::Span::default(),
            "No probes to attach",
        )])));
    }
    let analysis = sema::analyze(&program, instances, settings).map_err(fail)?;
    let mut compiled = codegen::generate(&program, &analysis).map_err(fail)?;
    let lines = diag::LineIndex::new(source);
    for call in &mut compiled.events.printf {
        call.location = lines.location(source_name, call.span);
        let label = match call.kind {
            codegen::EventKind::Errorf => "ERROR",
            _ => "WARNING",
        };
        let notes = macros::expanded_from(call.span, &expansions);
        call.expanded_from = diag::render_notes(source_name, source, &notes, label);
    }
    for site in &mut compiled.events.helper_sites {
        site.file = source_name.to_owned();
        site.location = lines.location(source_name, site.span);
        (site.line, site.column, _) = lines.line_and_columns(site.span);
        let rendered = Diagnostic::warning(site.span, "").render(source_name, source);
        let notes = macros::expanded_from(site.span, &expansions);
        site.excerpt = rendered
            .split_once('\n')
            .map_or("", |(_, rest)| rest)
            .to_owned()
            + &diag::render_notes(source_name, source, &notes, "WARNING");
    }
    let warnings = skipped.render(source_name, source)
        + &macros::explain(analysis.warnings.clone(), &expansions).render(source_name, source);
    Ok(Script {
        compiled,
        analysis,
        warnings,
    })
}

/// `config = { missing_probes = error|warn|ignore }`: what an attach point that matches
/// nothing does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MissingProbes {
    Error,
    Warn,
    Ignore,
}

impl MissingProbes {
    fn of(config: &[ast::ConfigItem]) -> Self {
        let value = config.iter().rev().find_map(|item| match &item.value {
            ast::ConfigValue::String(v) | ast::ConfigValue::Ident(v)
                if item
                    .key
                    .trim_start_matches("BPFTRACE_")
                    .eq_ignore_ascii_case("missing_probes") =>
            {
                Some(v.as_str())
            }
            _ => None,
        });
        match value {
            Some("warn") => MissingProbes::Warn,
            Some("ignore") => MissingProbes::Ignore,
            _ => MissingProbes::Error,
        }
    }
}

/// The probes a program attaches to, wildcards expanded (what `-l -e PROGRAM` lists).
/// With `pid`, a uprobe whose binary is `*` lists the probes of every file the process maps.
pub fn probe_names(source: &str, pid: Option<u32>) -> Result<Vec<String>, CompileError> {
    let fail = |diagnostics: Diagnostics| CompileError {
        rendered: diagnostics.render("stdin", source),
        diagnostics,
    };
    let program = parse(source).map_err(fail)?;
    let mut names = Vec::new();
    for point in program.probes.iter().flat_map(|p| &p.attach_points) {
        let found =
            expand_in_process(point, pid).map_err(|e| fail(Diagnostics(vec![e.diagnostic])))?;
        names.extend(
            found
                .iter()
                .filter(|p| !p.is_further_site())
                .map(|p| listed_name(p, &point.raw)),
        );
    }
    Ok(names)
}

/// Expands one attach point; with `pid`, `uprobe:*:FUNC` (and `usdt:*:…`, `usdt::…`)
/// matches in every file the process maps (files without a matching function are no error while another has one).
fn expand_in_process(
    point: &ast::AttachPoint,
    pid: Option<u32>,
) -> Result<Vec<probes::ProbeInstance>, probes::ExpandError> {
    let Some(points) = pid.and_then(|pid| in_mapped_files(point, pid)) else {
        return match pid.and_then(|pid| through_process_root(point, pid)) {
            Some(point) => probes::expand(&point),
            None => probes::expand(point),
        };
    };
    let found: Vec<_> = points
        .iter()
        .flat_map(|point| probes::expand(point).unwrap_or_default())
        .collect();
    if found.is_empty() {
        let message = format!(
            "No matches for {} in process {}.",
            point.raw.trim(),
            pid.unwrap_or_default()
        );
        return Err(probes::ExpandError {
            diagnostic: Diagnostic::error(point.span, message),
            missing: true,
        });
    }
    Ok(found)
}

/// `uprobe:*:FUNC` or `usdt:*:…` in process `pid`: one attach point per executable file it
/// maps. A usdt probe may leave the binary empty (`usdt::PROVIDER:NAME`).
fn in_mapped_files(point: &ast::AttachPoint, pid: u32) -> Option<Vec<ast::AttachPoint>> {
    let (kind, rest) = point.raw.trim().split_once(':')?;
    let function = match kind {
        "uprobe" | "u" | "uretprobe" | "ur" => rest.strip_prefix("*:")?,
        "usdt" | "U" => rest.strip_prefix("*:").or_else(|| rest.strip_prefix(':'))?,
        _ => return None,
    };
    let mut paths: Vec<_> = bpfhook::symbolize::process_mappings(pid)?
        .into_iter()
        .map(|m| bpfhook::symbolize::path_in_process(pid, &m.path))
        .collect();
    paths.sort();
    paths.dedup();
    Some(
        paths
            .into_iter()
            .map(|path| ast::AttachPoint {
                raw: format!("{kind}:{}:{function}", path.display()),
                span: point.span,
            })
            .collect(),
    )
}

/// `uprobe:/PATH:…` or `usdt:/PATH:…` with `-p PID`: the path as the process sees it, which in
/// another mount namespace is reached through `/proc/PID/root`. None when nothing changes.
fn through_process_root(point: &ast::AttachPoint, pid: u32) -> Option<ast::AttachPoint> {
    let (kind, rest) = point.raw.trim().split_once(':')?;
    if !matches!(kind, "uprobe" | "u" | "uretprobe" | "ur" | "usdt" | "U") {
        return None;
    }
    let (binary, target) = rest.split_once(':')?;
    let seen = bpfhook::symbolize::path_in_process(pid, std::path::Path::new(binary));
    (seen.as_os_str() != binary).then(|| ast::AttachPoint {
        raw: format!("{kind}:{}:{target}", seen.display()),
        span: point.span,
    })
}

/// A probe as `-l` lists it: timers and counted events without their count, in the unit
/// written (`interval:us:`, `hardware:cache-misses:`), as bpftrace lists them.
fn listed_name(probe: &probes::ProbeInstance, written: &str) -> String {
    use probes::ProbeKind::*;
    match probe.kind {
        Interval { .. } | Profile { .. } => {
            let kind = probe.name.split(':').next().unwrap_or_default();
            match written.trim().split(':').collect::<Vec<_>>().as_slice() {
                [_, unit, _] => format!("{kind}:{unit}:"),
                _ => format!("{kind}:"),
            }
        }
        PerfCounter { .. } => match probe.name.rfind(':') {
            Some(colon) => probe.name[..=colon].to_owned(),
            None => probe.name.clone(),
        },
        _ => probe.name.clone(),
    }
}

/// `$1` in an attach point is replaced by the parameter's text (`i:ms:$1`, `BEG$1`).
fn substitute_positional(raw: &str, positional: &[String]) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c == '$' {
            let mut digits = String::new();
            while let Some((_, d)) = chars.peek().copied().filter(|(_, d)| d.is_ascii_digit()) {
                digits.push(d);
                chars.next();
            }
            if let Ok(n) = digits.parse::<usize>() {
                out.push_str(positional.get(n.wrapping_sub(1)).map_or("", String::as_str));
                continue;
            }
            out.push('$');
            out.push_str(&digits);
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn positional_parameters_in_attach_points() {
        let params = vec!["IN".to_owned(), "5".to_owned()];
        assert_eq!(super::substitute_positional("BEG$1", &params), "BEGIN");
        assert_eq!(super::substitute_positional("i:ms:$2", &params), "i:ms:5");
    }
}
