//! Translators (to be written).

use super::Translator;

/// The translated files of this directory.
pub(crate) fn translators() -> Vec<Translator> {
    Vec::new()
}
