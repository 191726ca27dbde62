//! Every problem at once: a non-empty list of errors, as rustc and jub0bs/cors report them.

use std::fmt;

/// A non-empty list of problems, each with its own fix, reported together instead of one
/// per attempt. [`crate::ConfigErrors`] is the policy builder's; the gateway's
/// configuration uses the same list for its file-located errors.
///
/// ```
/// let errors = corsica::Policy::builder()
///     .allow_origins(["*", "null"])
///     .allow_credentials(true)
///     .build()
///     .unwrap_err();
/// assert!(errors.len() >= 2);
/// // One problem per line.
/// assert_eq!(errors.to_string().lines().count(), errors.len());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Errors<E>(Vec<E>);

impl<E> Errors<E> {
    /// The list, or `None` when there is no problem.
    ///
    /// ```
    /// use corsica::Errors;
    /// assert!(Errors::<String>::from_vec(Vec::new()).is_none());
    /// assert_eq!(Errors::from_vec(vec!["a"]).unwrap().len(), 1);
    /// ```
    pub fn from_vec(errors: Vec<E>) -> Option<Errors<E>> {
        if errors.is_empty() {
            None
        } else {
            Some(Errors(errors))
        }
    }

    /// The first problem.
    ///
    /// ```
    /// let err = corsica::Policy::builder().build().unwrap_err();
    /// assert!(matches!(err.first(), corsica::ConfigError::NoOrigins));
    /// ```
    pub fn first(&self) -> &E {
        &self.0[0]
    }

    /// How many problems there are (at least one).
    ///
    /// ```
    /// let err = corsica::Policy::builder().build().unwrap_err();
    /// assert_eq!(err.len(), 1);
    /// ```
    #[allow(clippy::len_without_is_empty)] // never empty
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The problems, in order.
    ///
    /// ```
    /// let err = corsica::Policy::builder().build().unwrap_err();
    /// assert_eq!(err.iter().count(), 1);
    /// ```
    pub fn iter(&self) -> std::slice::Iter<'_, E> {
        self.0.iter()
    }
}

impl<E: fmt::Display> fmt::Display for Errors<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for Errors<E> {}

impl<E> From<E> for Errors<E> {
    fn from(e: E) -> Errors<E> {
        Errors(vec![e])
    }
}

impl<E> IntoIterator for Errors<E> {
    type Item = E;
    type IntoIter = std::vec::IntoIter<E>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, E> IntoIterator for &'a Errors<E> {
    type Item = &'a E;
    type IntoIter = std::slice::Iter<'a, E>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
