//! The c emitter (see model.rs for the model it reads).

use std::path::Path;
use xtask::protocol::emit::File;
use xtask::protocol::model::Model;

/// The generated c files.
pub fn files(_root: &Path, _m: &Model) -> Vec<File> {
    Vec::new()
}
