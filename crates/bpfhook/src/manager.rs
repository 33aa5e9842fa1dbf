//! `Manager`: load an object, attach its programs with options, report each program's status,
//! and detach everything when dropped.
//!
//! `ManagerBuilder` is the spec (which programs, which options); `Manager` is the live set the
//! kernel holds. Every target is resolved before anything is loaded, so a missing interface or
//! binary costs no kernel work; if a program then fails to load or attach, the programs attached
//! before it are detached (by dropping what was built so far) and the error names the one that
//! failed.

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::attach::{self, AttachError, AttachOptions, Attachment, Target};
use crate::hook::Hook;
use crate::kernel::features::{check_privileges, MissingPrivilege};
use crate::loader::{LoadError, LoadFor, LoadedObject, VerifierLog};
use crate::object::ObjectFile;

/// Where one program stands.
#[derive(Debug, Clone)]
pub enum ProgramState {
    Attached(Target),
    /// Not selected: neither loaded nor attached.
    Skipped,
    /// Failed, with the reason (only with `keep_going`; otherwise a failure is an error).
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct ProgramStatus {
    pub name: String,
    pub hook: Hook,
    pub state: ProgramState,
}

#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error("no program named `{0}` in the object (it has: {1})")]
    UnknownProgram(String, String),
    #[error("program `{program}` ({hook}): {error}{}", rolled_back(.detached))]
    Program {
        program: String,
        hook: String,
        #[source]
        error: Box<AttachError>,
        detached: Vec<String>,
    },
    #[error("loading the object into the kernel: {0}")]
    Load(#[source] LoadError),
    #[error(transparent)]
    Privilege(#[from] MissingPrivilege),
}

fn rolled_back(detached: &[String]) -> String {
    if detached.is_empty() {
        String::new()
    } else {
        format!("\nrolled back: detached {}", detached.join(", "))
    }
}

/// What to load and how to attach it.
pub struct ManagerBuilder<'a> {
    object: &'a ObjectFile,
    defaults: AttachOptions,
    per_program: HashMap<String, AttachOptions>,
    selected: Option<Vec<String>>,
    attach_order: Vec<String>,
    keep_going: bool,
    verifier_log: VerifierLog,
}

impl<'a> ManagerBuilder<'a> {
    pub fn new(object: &'a ObjectFile) -> Self {
        Self {
            object,
            defaults: AttachOptions::default(),
            per_program: HashMap::new(),
            selected: None,
            attach_order: Vec::new(),
            keep_going: false,
            verifier_log: VerifierLog::default(),
        }
    }

    /// How program loads use the verifier's log (by default: only to explain a failure).
    pub fn verifier_log(mut self, log: VerifierLog) -> Self {
        self.verifier_log = log;
        self
    }

    /// Options for every program without options of its own.
    pub fn options(mut self, options: AttachOptions) -> Self {
        self.defaults = options;
        self
    }

    /// Options for one program.
    pub fn program_options(mut self, program: &str, options: AttachOptions) -> Self {
        self.per_program.insert(program.to_owned(), options);
        self
    }

    /// Load and attach only these programs (default: all).
    pub fn select<I: IntoIterator<Item = S>, S: Into<String>>(mut self, programs: I) -> Self {
        self.selected = Some(programs.into_iter().map(Into::into).collect());
        self
    }

    /// Attach these programs first, in this order; the others follow in the object's order.
    /// Several programs on one uprobe or kprobe run newest first, so a caller that wants
    /// them to run in its order attaches them in reverse (bpftrace does).
    pub fn attach_order<I: IntoIterator<Item = S>, S: Into<String>>(mut self, programs: I) -> Self {
        self.attach_order = programs.into_iter().map(Into::into).collect();
        self
    }

    /// Keep the programs that attached when another fails, and report the failure in its status.
    pub fn keep_going(mut self, keep_going: bool) -> Self {
        self.keep_going = keep_going;
        self
    }

    /// Resolves every target, loads the object and attaches.
    pub fn attach(self) -> Result<Manager, ManagerError> {
        self.load()?.attach()
    }

    /// Resolves every target and creates the object's maps; nothing is attached yet, so
    /// readers opened on the maps now see every record the programs will write.
    pub fn load(self) -> Result<Loaded, ManagerError> {
        check_privileges()?;
        let specs = self.object.programs();
        if let Some(selected) = &self.selected {
            for name in selected {
                if self.object.program(name).is_none() {
                    let names: Vec<&str> = specs.iter().map(|p| p.name.as_str()).collect();
                    return Err(ManagerError::UnknownProgram(name.clone(), names.join(", ")));
                }
            }
        }
        let is_selected = |name: &str| {
            self.selected
                .as_ref()
                .is_none_or(|s| s.iter().any(|n| n == name))
        };

        // 1. Resolve every target before touching the kernel.
        let mut status = Vec::with_capacity(specs.len());
        let mut plan = Vec::new();
        for spec in specs {
            let state = if !is_selected(&spec.name) {
                ProgramState::Skipped
            } else {
                let options = self.per_program.get(&spec.name).unwrap_or(&self.defaults);
                match attach::resolve(&spec.hook, options) {
                    Ok(target) => {
                        plan.push((status.len(), target.clone()));
                        ProgramState::Attached(target)
                    }
                    Err(error) if self.keep_going => ProgramState::Failed(error.to_string()),
                    Err(error) => {
                        return Err(ManagerError::Program {
                            program: spec.name.clone(),
                            hook: spec.hook.to_string(),
                            error: Box::new(error),
                            detached: Vec::new(),
                        })
                    }
                }
            };
            status.push(ProgramStatus {
                name: spec.name.clone(),
                hook: spec.hook.clone(),
                state,
            });
        }

        let rank = |index: usize| {
            let name = &status[index].name;
            self.attach_order
                .iter()
                .position(|n| n == name)
                .unwrap_or(usize::MAX)
        };
        plan.sort_by_key(|(index, _)| rank(*index));

        // 2. Create the maps.
        let mut object =
            LoadedObject::load(self.object.loader_bytes()).map_err(ManagerError::Load)?;
        object.set_verifier_log(self.verifier_log);
        Ok(Loaded {
            object,
            plan,
            status,
            keep_going: self.keep_going,
        })
    }
}

/// An object whose maps exist and whose targets are resolved, before any program is loaded.
pub struct Loaded {
    object: LoadedObject,
    plan: Vec<(usize, Target)>,
    status: Vec<ProgramStatus>,
    keep_going: bool,
}

impl Loaded {
    /// Every map of the object, by name.
    pub fn maps(&self) -> impl Iterator<Item = (&str, &aya::maps::Map)> {
        self.object.maps()
    }

    /// Loads a program without attaching it (the verifier runs here), for programs that run on
    /// demand through `BPF_PROG_TEST_RUN` — a tracing language's BEGIN and END probes. Leave
    /// such programs out of [`ManagerBuilder::select`].
    pub fn load_unattached(&self, name: &str) -> Result<OwnedFd, ManagerError> {
        self.object
            .load_program(name, LoadFor::Section)
            .map_err(|error| ManagerError::Program {
                program: name.to_owned(),
                hook: "run once".to_owned(),
                error: Box::new(AttachError::from_load(error)),
                detached: Vec::new(),
            })
    }

    /// Each program that will be loaded, with its resolved target.
    pub fn targets(&self) -> impl Iterator<Item = (&str, &Target)> {
        self.plan
            .iter()
            .filter_map(|(index, target)| Some((self.status.get(*index)?.name.as_str(), target)))
    }

    /// Loads and attaches each planned program; on a failure (without `keep_going`) what was
    /// attached is detached again.
    pub fn attach(self) -> Result<Manager, ManagerError> {
        let Self {
            object,
            plan,
            mut status,
            keep_going,
        } = self;
        let mut programs = HashMap::new();
        let mut attachments = Vec::new();
        let mut attached: Vec<String> = Vec::new();
        for (index, target) in plan {
            let entry = &mut status[index];
            match attach::load_and_attach(&object, &entry.name, &target) {
                Ok(done) => {
                    programs.insert(entry.name.clone(), done.program);
                    attachments.push((index, done.attachments));
                    attached.push(entry.name.clone());
                }
                Err(error) if keep_going => {
                    entry.state = ProgramState::Failed(error.to_string());
                }
                Err(error) => {
                    // Returning drops the attachments made so far: everything detaches.
                    return Err(ManagerError::Program {
                        program: entry.name.clone(),
                        hook: target.to_string(),
                        error: Box::new(error),
                        detached: attached,
                    });
                }
            }
        }
        Ok(Manager {
            attachments,
            programs,
            object,
            status,
        })
    }
}

/// Programs loaded and attached. Dropping it detaches every program and unloads everything.
pub struct Manager {
    // Field order is drop order: attachments (links, perf events, sockets, TC filters) first, in the order
    // they were made, then programs, then maps. Each program's attachments are kept with the
    // index of its status, so pinning can tell whose link is whose.
    attachments: Vec<(usize, Vec<Attachment>)>,
    programs: HashMap<String, OwnedFd>,
    object: LoadedObject,
    status: Vec<ProgramStatus>,
}

impl Manager {
    /// One status per program of the object, in object order.
    pub fn status(&self) -> &[ProgramStatus] {
        &self.status
    }

    /// Every map of the object, by name.
    pub fn maps(&self) -> impl Iterator<Item = (&str, &aya::maps::Map)> {
        self.object.maps()
    }

    pub fn map(&self, name: &str) -> Option<&aya::maps::Map> {
        self.object.map(name)
    }

    pub fn map_mut(&mut self, name: &str) -> Option<&mut aya::maps::Map> {
        self.object.map_mut(name)
    }

    /// Detaches every program (links, perf events, sockets, filters), keeping programs and
    /// maps: what ran can still be read, and run on demand.
    pub fn detach(&mut self) {
        self.attachments.clear();
    }

    /// The fd of a program that was loaded and attached.
    pub fn program(&self, name: &str) -> Option<BorrowedFd<'_>> {
        self.programs.get(name).map(AsFd::as_fd)
    }

    /// Each attached program: its status, its fd and what holds it on its hook.
    pub(crate) fn attached(
        &self,
    ) -> impl Iterator<Item = (&ProgramStatus, BorrowedFd<'_>, &[Attachment])> {
        self.attachments.iter().filter_map(|(index, attachments)| {
            let status = self.status.get(*index)?;
            let program = self.program(&status.name)?;
            Some((status, program, attachments.as_slice()))
        })
    }

    /// A new reading of an attached iterator program (`iter/…`): reading the file to its end
    /// runs the program over every object the iterator walks. None when `name` is not an
    /// attached iterator.
    pub fn open_iterator(&self, name: &str) -> Option<Result<std::fs::File, AttachError>> {
        let (_, _, attachments) = self
            .attached()
            .find(|(status, ..)| status.name == name && matches!(status.hook, Hook::Iter { .. }))?;
        match attachments.first()? {
            Attachment::Fd(link) => Some(crate::attach::iter::open(link.as_fd())),
            _ => None,
        }
    }

    /// The kernel id of a program that was loaded and attached (what `bpfhook prog show` takes).
    pub fn program_id(&self, name: &str) -> Option<u32> {
        crate::sys::prog_info(self.program(name)?, &mut [], &mut [])
            .ok()
            .map(|info| info.id)
    }
}
