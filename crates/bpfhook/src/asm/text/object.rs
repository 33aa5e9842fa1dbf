//! Object-level text: the directives (`.license`, `.map`, `.rodata`,
//! `.section`, `.func`) that group programs into an [`ObjectSpec`], and the
//! checks that every symbolic reference names something the object defines.

use std::collections::HashSet;

use super::lexer::{parse_number, tokenize, Token, TokenKind};
use super::parser::{
    column_of, is_identifier, leading_directive, lines, syntax, ProgramParser, Reference,
};
use crate::asm::elf::{
    map_type_from_name, DataSpec, FunctionSpec, MapSpec, ObjectSpec, ProgramSpec,
};
use crate::asm::AsmError;

/// Parses a whole object: `.license`, `.map`, `.rodata`, then `.section SEC
/// [NAME]` programs and `.func NAME` subprograms with their instructions.
pub fn parse_object(text: &str) -> Result<ObjectSpec, AsmError> {
    let mut parser = ObjectParser::default();
    for (line, content) in lines(text) {
        let content = content.as_str();
        match leading_directive(content) {
            Some((word, column)) => parser.directive(line, column, word, content)?,
            None => parser.instruction_line(line, content)?,
        }
    }
    parser.finish()
}

/// What the object parser is currently filling.
enum Body {
    Program { section: String, name: String },
    Function { name: String },
}

#[derive(Default)]
struct ObjectParser {
    object: ObjectSpec,
    current: Option<(Body, ProgramParser)>,
    names: HashSet<String>,
    map_refs: Vec<Reference>,
    data_refs: Vec<Reference>,
    call_refs: Vec<(String, Reference)>,
}

impl ObjectParser {
    fn instruction_line(&mut self, line: usize, content: &str) -> Result<(), AsmError> {
        match &mut self.current {
            Some((_, program)) => program.parse_line(line, content),
            None => {
                let column = column_of(content, content.len() - content.trim_start().len());
                Err(syntax(
                    line,
                    column,
                    "instruction outside a program; start one with `.section NAME` or `.func NAME`",
                ))
            }
        }
    }

    fn directive(
        &mut self,
        line: usize,
        column: usize,
        word: &str,
        content: &str,
    ) -> Result<(), AsmError> {
        let start = content.len() - content.trim_start().len() + word.len();
        let mut args = Args::new(&content[start..], line, column + word.chars().count())?;
        match word {
            ".license" => {
                let license = args.string("license text")?;
                self.object.license = String::from_utf8(license)
                    .map_err(|_| syntax(line, column, "license must be UTF-8"))?;
            }
            ".section" => {
                let (section, section_column) = args.word("section name")?;
                let name = match args.next() {
                    Some((name, _)) => name,
                    None => default_symbol_name(&section),
                };
                self.define(&name, line, section_column)?;
                self.start(Body::Program { section, name })?;
            }
            ".func" => {
                let (name, name_column) = args.word("function name")?;
                self.define(&name, line, name_column)?;
                self.start(Body::Function { name })?;
            }
            ".map" => {
                let (name, name_column) = args.word("map name")?;
                self.define(&name, line, name_column)?;
                let map = parse_map(&name, &mut args)?;
                self.object.maps.push(map);
            }
            ".rodata" => {
                let (name, name_column) = args.word("data name")?;
                self.define(&name, line, name_column)?;
                let bytes = args.string("data bytes")?;
                self.object.data.push(DataSpec { name, bytes });
            }
            other => return Err(syntax(line, column, format!("unknown directive `{other}`"))),
        }
        args.finish()
    }

    fn define(&mut self, name: &str, line: usize, column: usize) -> Result<(), AsmError> {
        if !is_identifier(name) {
            return Err(syntax(
                line,
                column,
                format!("`{name}` is not a valid symbol name"),
            ));
        }
        if !self.names.insert(name.to_owned()) {
            return Err(syntax(
                line,
                column,
                format!("symbol `{name}` is defined twice"),
            ));
        }
        Ok(())
    }

    /// Finishes the current program and starts the next.
    fn start(&mut self, body: Body) -> Result<(), AsmError> {
        self.close()?;
        self.current = Some((body, ProgramParser::default()));
        Ok(())
    }

    fn close(&mut self) -> Result<(), AsmError> {
        let Some((body, parser)) = self.current.take() else {
            return Ok(());
        };
        let owner = match &body {
            Body::Program { name, .. } | Body::Function { name } => name.clone(),
        };
        self.map_refs.extend(parser.maps.iter().cloned());
        self.data_refs.extend(parser.data.iter().cloned());
        for call in &parser.calls {
            if !parser.builder.has_label(&call.name) {
                self.call_refs.push((owner.clone(), call.clone()));
            }
        }
        let program = parser.finish()?;
        match body {
            Body::Program { section, name } => self.object.programs.push(ProgramSpec {
                section,
                name,
                program,
            }),
            Body::Function { name } => self.object.functions.push(FunctionSpec { name, program }),
        }
        Ok(())
    }

    /// Checks every symbolic reference against what the object defines.
    fn finish(mut self) -> Result<ObjectSpec, AsmError> {
        self.close()?;
        let object = self.object;
        let unresolved = |kind: &str, reference: &Reference| {
            syntax(
                reference.line,
                reference.column,
                format!("undefined {kind} `{}`", reference.name),
            )
        };
        if let Some(missing) = self
            .map_refs
            .iter()
            .find(|r| !object.maps.iter().any(|map| map.name == r.name))
        {
            return Err(unresolved("map", missing));
        }
        if let Some(missing) = self
            .data_refs
            .iter()
            .find(|r| !object.data.iter().any(|data| data.name == r.name))
        {
            return Err(unresolved("rodata", missing));
        }
        if let Some((_, missing)) = self.call_refs.iter().find(|(_, r)| {
            !object
                .functions
                .iter()
                .any(|function| function.name == r.name)
        }) {
            return Err(unresolved("function or label", missing));
        }
        Ok(object)
    }
}

/// `tracepoint/syscalls/sys_enter_execve` → `tracepoint_syscalls_sys_enter_execve`.
fn default_symbol_name(section: &str) -> String {
    let name: String = section
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{name}")
    } else {
        name
    }
}

/// `type=hash key=4 value=8 entries=1024 [flags=N]`.
fn parse_map(name: &str, args: &mut Args) -> Result<MapSpec, AsmError> {
    let mut map = MapSpec {
        name: name.to_owned(),
        map_type: 0,
        key_size: 0,
        value_size: 0,
        max_entries: 0,
        flags: 0,
    };
    let mut seen_type = false;
    while let Some((pair, column)) = args.next() {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| args.error(column, format!("expected key=value, found `{pair}`")))?;
        let number = || {
            parse_number(value)
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| args.error(column, format!("invalid number `{value}` for `{key}`")))
        };
        match key {
            "type" => {
                map.map_type = match map_type_from_name(value) {
                    Some(map_type) => map_type,
                    None => number()?,
                };
                seen_type = true;
            }
            "key" => map.key_size = number()?,
            "value" => map.value_size = number()?,
            "entries" => map.max_entries = number()?,
            "flags" => map.flags = number()?,
            other => return Err(args.error(column, format!("unknown map attribute `{other}`"))),
        }
    }
    if !seen_type {
        return Err(args.error(args.end_column, format!("map `{name}` needs type=")));
    }
    Ok(map)
}

/// Whitespace-separated directive arguments; a quoted string is one argument.
struct Args {
    items: Vec<(String, usize)>,
    position: usize,
    line: usize,
    end_column: usize,
}

impl Args {
    fn new(text: &str, line: usize, first_column: usize) -> Result<Args, AsmError> {
        let mut items = Vec::new();
        let chars: Vec<char> = text.chars().collect();
        let mut index = 0;
        while index < chars.len() {
            if chars[index].is_whitespace() {
                index += 1;
                continue;
            }
            let start = index;
            if chars[index] == '"' {
                index += 1;
                while index < chars.len() && chars[index] != '"' {
                    index += if chars[index] == '\\' { 2 } else { 1 };
                }
                if index >= chars.len() {
                    return Err(syntax(line, first_column + start, "unterminated string"));
                }
                index += 1;
            } else {
                while index < chars.len() && !chars[index].is_whitespace() {
                    index += 1;
                }
            }
            items.push((chars[start..index].iter().collect(), first_column + start));
        }
        Ok(Args {
            items,
            position: 0,
            line,
            end_column: first_column + chars.len(),
        })
    }

    fn error(&self, column: usize, message: String) -> AsmError {
        syntax(self.line, column, message)
    }

    fn next(&mut self) -> Option<(String, usize)> {
        let item = self.items.get(self.position).cloned();
        self.position += usize::from(item.is_some());
        item
    }

    fn word(&mut self, what: &str) -> Result<(String, usize), AsmError> {
        self.next()
            .ok_or_else(|| self.error(self.end_column, format!("expected {what}")))
    }

    fn string(&mut self, what: &str) -> Result<Vec<u8>, AsmError> {
        let (text, column) = self.word(what)?;
        let tokens = tokenize(&text, self.line, column)?;
        match tokens.as_slice() {
            [Token {
                kind: TokenKind::Str(bytes),
                ..
            }] => Ok(bytes.clone()),
            _ => Err(self.error(column, format!("expected {what} as a quoted string"))),
        }
    }

    fn finish(&self) -> Result<(), AsmError> {
        match self.items.get(self.position) {
            None => Ok(()),
            Some((extra, column)) => Err(self.error(*column, format!("unexpected `{extra}`"))),
        }
    }
}
