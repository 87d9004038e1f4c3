//! AFL++ persistent-mode driver for the harness binaries in `src/bin/`. The binaries are
//! built by `run.sh` with LLVM's SanitizerCoverage (`trace-pc-guard`, compare tracing) and
//! linked with AFL++'s `afl-compiler-rt.o`, which provides the symbols declared here.

pub mod checks;

use std::io::Read;
use tokio::runtime::Runtime;

unsafe extern "C" {
    fn __afl_persistent_loop(max_cnt: u32) -> i32;
    static mut __afl_fuzz_ptr: *const u8;
    static mut __afl_fuzz_len: *const u32;
}

/// afl-fuzz looks for this string in the binary to run it in persistent mode.
#[used]
static PERSISTENT_SIGNATURE: [u8; 23] = *b"##SIG_AFL_PERSISTENT##\0";

/// Asks the AFL++ runtime for test cases in shared memory rather than on stdin.
#[unsafe(no_mangle)]
#[used]
pub static mut __afl_sharedmem_fuzzing: i32 = 1;

/// Inputs per forked child before afl-fuzz starts a fresh one.
const PERSISTENT_ITERATIONS: u32 = 100_000;

/// Runs `check` on each file named on the command line, or on stdin, or (under afl-fuzz) on
/// every test case in a persistent loop.
pub fn run(check: fn(&Runtime, &[u8])) {
    let rt = checks::runtime();
    let files: Vec<_> = std::env::args_os().skip(1).collect();
    if !files.is_empty() {
        for file in files {
            let data = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            check(&rt, &data);
            eprintln!("ok: {}", file.display());
        }
        return;
    }
    let mut stdin = Vec::new();
    if std::env::var_os("__AFL_SHM_ID").is_none() {
        std::io::stdin().read_to_end(&mut stdin).expect("cannot read stdin");
        check(&rt, &stdin);
        return;
    }
    // SAFETY: the AFL++ runtime sets the test case pointer and length before each
    // `__afl_persistent_loop` returns; they are read only between calls.
    while unsafe { __afl_persistent_loop(PERSISTENT_ITERATIONS) } != 0 {
        let ptr = unsafe { __afl_fuzz_ptr };
        let data = if ptr.is_null() {
            stdin.clear();
            std::io::stdin().read_to_end(&mut stdin).expect("cannot read stdin");
            &stdin[..]
        } else {
            unsafe { std::slice::from_raw_parts(ptr, *__afl_fuzz_len as usize) }
        };
        check(&rt, data);
    }
}
