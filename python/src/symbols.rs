//! `_native.Symbols`: addresses to names through the library's symbolizers (BCC's ksym, sym,
//! ksymname), kallsyms indexed once.

use bpfhook::kernel::kallsyms::Kallsyms;
use bpfhook::symbolize::{KernelSymbolizer, Symbol, UserSymbolizer};
use pyo3::prelude::*;

use crate::error::{error_chain, BpfError};

type Found = Option<(String, u64, Option<String>)>;

fn found(symbol: Option<Symbol>) -> Found {
    symbol.map(|s| (s.name, s.offset, s.module))
}

#[pyclass(module = "bpfhook._native")]
pub struct Symbols {
    kernel: Option<KernelSymbolizer>,
    user: UserSymbolizer,
}

#[pymethods]
impl Symbols {
    #[new]
    fn new() -> Self {
        Self {
            kernel: None,
            user: UserSymbolizer::new(),
        }
    }

    /// The kernel function at `address`: (name, offset, module).
    fn ksym(&mut self, address: u64) -> PyResult<Found> {
        if self.kernel.is_none() {
            self.kernel =
                Some(KernelSymbolizer::new().map_err(|e| BpfError::new_err(error_chain(&e)))?);
        }
        Ok(found(
            self.kernel.as_ref().and_then(|k| k.symbolize(address)),
        ))
    }

    /// The user function at `address` in process `pid`.
    fn sym(&mut self, address: u64, pid: u32) -> Found {
        found(self.user.symbolize(pid, address))
    }

    /// The address of kernel symbol `name`, None if kallsyms has no such symbol.
    fn ksymname(&self, name: &str) -> PyResult<Option<u64>> {
        let kallsyms = Kallsyms::read().map_err(|e| BpfError::new_err(e.to_string()))?;
        let address = kallsyms
            .symbols()
            .find(|s| s.name == name)
            .map(|s| s.address);
        Ok(address)
    }
}
