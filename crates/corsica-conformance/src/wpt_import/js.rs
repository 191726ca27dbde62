//! Just enough JavaScript to read WPT's test tables: the arguments of helper calls
//! (`corsPreflight("desc", url, "PUT", true, …)`), the arrays a test loops over
//! (`[301, 302].forEach(f)`, `for (const code of [301, 302])`) and the literals in them.
//! Nothing is executed: a value that is not a literal stays a name, a call or a sum, and
//! the file's translator decides what it means.
//!
//! Written here rather than taken from a crate: a full JavaScript parser (swc, boa) is a
//! large build for reading literal tables, and the tests' shape is stable and simple.

use std::fmt;

/// A value as written in the source.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Js {
    /// A string literal (escapes decoded), or a template literal without `${…}`.
    Str(String),
    /// A number literal.
    Num(f64),
    /// `true` / `false`.
    Bool(bool),
    /// `undefined`.
    Undefined,
    /// `null`.
    Null,
    /// A name, dotted (`host_info.HTTP_REMOTE_ORIGIN`).
    Name(String),
    /// `[a, b]`.
    Array(Vec<Js>),
    /// `{k: v}`.
    Object(Vec<(String, Js)>),
    /// `f(a, b)` (also `new f(…)` and `a.f(…)`, with the callee's dotted name).
    Call(String, Vec<Js>),
    /// `a + b + …` that does not fold to one literal.
    Sum(Vec<Js>),
    /// Anything else, as written (arrow functions, comparisons, …).
    Other(String),
}

impl Js {
    /// The number, when this is a number literal.
    pub(crate) fn num(&self) -> Option<f64> {
        match self {
            Js::Num(n) => Some(*n),
            _ => None,
        }
    }

    /// JavaScript truthiness of a literal (`None` when it is not a literal).
    pub(crate) fn truthy(&self) -> Option<bool> {
        match self {
            Js::Str(s) => Some(!s.is_empty()),
            Js::Num(n) => Some(*n != 0.0 && !n.is_nan()),
            Js::Bool(b) => Some(*b),
            Js::Undefined | Js::Null => Some(false),
            Js::Array(_) | Js::Object(_) => Some(true),
            _ => None,
        }
    }

    /// The items, when this is an array literal.
    pub(crate) fn array(&self) -> Option<&[Js]> {
        match self {
            Js::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The value of `key`, when this is an object literal holding it.
    pub(crate) fn get(&self, key: &str) -> Option<&Js> {
        match self {
            Js::Object(o) => o.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

impl fmt::Display for Js {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Js::Str(s) => write!(f, "{s:?}"),
            Js::Num(n) => write!(f, "{n}"),
            Js::Bool(b) => write!(f, "{b}"),
            Js::Undefined => f.write_str("undefined"),
            Js::Null => f.write_str("null"),
            Js::Name(n) => f.write_str(n),
            Js::Array(a) => {
                f.write_str("[")?;
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Js::Object(o) => {
                f.write_str("{")?;
                for (i, (k, v)) in o.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
            Js::Call(n, a) => write!(
                f,
                "{n}({})",
                Js::Array(a.clone()).to_string().trim_matches(['[', ']'])
            ),
            Js::Sum(parts) => {
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" + ")?;
                    }
                    write!(f, "{p}")?;
                }
                Ok(())
            }
            Js::Other(s) => f.write_str(s),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str(String),
    /// A template literal's raw text (between the backticks).
    Template(String),
    Num(f64),
    Ident(String),
    Punct(char),
    /// `=>`, `===`, `&&`, … (kept whole so they are not read as `=` then `>`).
    Op(String),
}

/// The script parts of an HTML test (`<script>` elements without `src`), or the whole
/// file for a `.js` test.
pub(crate) fn script_of(path: &str, text: &str) -> String {
    if !(path.ends_with(".htm") || path.ends_with(".html")) {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("<script") {
        let after = &rest[start..];
        let Some(open_end) = after.find('>') else {
            break;
        };
        let tag = &after[..open_end];
        let body = &after[open_end + 1..];
        let Some(close) = body.find("</script>") else {
            break;
        };
        if !tag.contains("src") {
            out.push_str(&body[..close]);
            out.push('\n');
        }
        rest = &body[close + "</script>".len()..];
    }
    out
}

fn tokenize(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '"' || c == '\'' {
            let (s, next) = string(&chars, i)?;
            out.push(Tok::Str(s));
            i = next;
        } else if c == '`' {
            let start = i + 1;
            i = start;
            while i < chars.len() && chars[i] != '`' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            out.push(Tok::Template(
                chars[start..i.min(chars.len())].iter().collect(),
            ));
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let n = if let Some(hex) = text.strip_prefix("0x") {
                i64::from_str_radix(hex, 16).map(|n| n as f64).ok()
            } else {
                text.parse::<f64>().ok()
            };
            out.push(Tok::Num(n.ok_or_else(|| format!("bad number `{text}`"))?));
        } else if c.is_alphabetic() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            let three: String = chars[i..(i + 3).min(chars.len())].iter().collect();
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            if ["===", "!=="].contains(&three.as_str()) {
                out.push(Tok::Op(three));
                i += 3;
            } else if [
                "=>", "==", "!=", "&&", "||", "<=", ">=", "++", "--", "+=", "?.",
            ]
            .contains(&two.as_str())
            {
                out.push(Tok::Op(two));
                i += 2;
            } else {
                out.push(Tok::Punct(c));
                i += 1;
            }
        }
    }
    Ok(out)
}

/// A quoted string starting at `chars[i]`; returns it (escapes decoded) and the index
/// after its closing quote.
fn string(chars: &[char], i: usize) -> Result<(String, usize), String> {
    let quote = chars[i];
    let mut s = String::new();
    let mut j = i + 1;
    while j < chars.len() {
        let c = chars[j];
        if c == quote {
            return Ok((s, j + 1));
        }
        if c == '\\' {
            j += 1;
            let e = *chars.get(j).ok_or("unterminated escape")?;
            match e {
                'n' => s.push('\n'),
                't' => s.push('\t'),
                'r' => s.push('\r'),
                'v' => s.push('\u{b}'),
                'f' => s.push('\u{c}'),
                'b' => s.push('\u{8}'),
                '0' if !chars.get(j + 1).is_some_and(char::is_ascii_digit) => s.push('\0'),
                'x' => {
                    let hex: String = chars.get(j + 1..j + 3).ok_or("short \\x")?.iter().collect();
                    let n = u32::from_str_radix(&hex, 16).map_err(|_| format!("bad \\x{hex}"))?;
                    s.push(char::from_u32(n).ok_or("bad \\x")?);
                    j += 2;
                }
                'u' => {
                    let hex: String = chars.get(j + 1..j + 5).ok_or("short \\u")?.iter().collect();
                    let n = u32::from_str_radix(&hex, 16).map_err(|_| format!("bad \\u{hex}"))?;
                    s.push(char::from_u32(n).ok_or("bad \\u")?);
                    j += 4;
                }
                '\n' => {}
                other => s.push(other),
            }
            j += 1;
            continue;
        }
        s.push(c);
        j += 1;
    }
    Err("unterminated string".into())
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn is_punct(&self, c: char) -> bool {
        self.peek() == Some(&Tok::Punct(c))
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.is_punct(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected `{c}`, found {:?}", self.peek()))
        }
    }

    /// An expression: a sum of terms; anything it cannot read becomes `Other` up to the
    /// next `,` or closing bracket at this depth.
    fn expr(&mut self) -> Result<Js, String> {
        let start = self.pos;
        let mut parts = vec![self.term()?];
        while self.is_punct('+') {
            self.pos += 1;
            parts.push(self.term()?);
        }
        if !self.at_end_of_expr() {
            // Not a plain sum (`a ? b : c`, `x => …`, `a === b`): keep it as text.
            self.pos = start;
            return Ok(Js::Other(self.skip_expr()));
        }
        Ok(fold(parts))
    }

    /// Whether the expression ends here: a separator, a closing bracket, or a name (a
    /// new statement after a line without `;`, which JavaScript ends for it).
    fn at_end_of_expr(&self) -> bool {
        matches!(
            self.peek(),
            None | Some(Tok::Punct(',' | ')' | ']' | '}' | ';') | Tok::Ident(_))
        )
    }

    /// Skips to the end of this expression, returning its text roughly as written.
    fn skip_expr(&mut self) -> String {
        let mut depth = 0i32;
        let mut text = Vec::new();
        while let Some(t) = self.peek().cloned() {
            match &t {
                Tok::Punct('(' | '[' | '{') => depth += 1,
                Tok::Punct(')' | ']' | '}') if depth == 0 => break,
                Tok::Punct(')' | ']' | '}') => depth -= 1,
                Tok::Punct(',' | ';') if depth == 0 => break,
                _ => {}
            }
            text.push(match t {
                Tok::Str(s) => format!("{s:?}"),
                Tok::Template(s) => format!("`{s}`"),
                Tok::Num(n) => n.to_string(),
                Tok::Ident(s) | Tok::Op(s) => s,
                Tok::Punct(c) => c.to_string(),
            });
            self.pos += 1;
        }
        text.join(" ")
    }

    fn term(&mut self) -> Result<Js, String> {
        let Some(t) = self.peek().cloned() else {
            return Err("unexpected end".into());
        };
        self.pos += 1;
        let value = match t {
            Tok::Str(s) => Js::Str(s),
            Tok::Template(s) if !s.contains("${") => Js::Str(s),
            Tok::Template(s) => Js::Other(format!("`{s}`")),
            Tok::Num(n) => Js::Num(n),
            Tok::Punct('-') => match self.term()? {
                Js::Num(n) => Js::Num(-n),
                other => Js::Other(format!("-{other}")),
            },
            Tok::Punct('[') => {
                let mut items = Vec::new();
                while !self.is_punct(']') {
                    items.push(self.expr()?);
                    if self.is_punct(',') {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                self.expect(']')?;
                Js::Array(items)
            }
            Tok::Punct('{') => {
                let mut fields = Vec::new();
                while !self.is_punct('}') {
                    let key = match self.peek().cloned() {
                        Some(Tok::Str(s) | Tok::Ident(s)) => s,
                        other => return Err(format!("object key expected, found {other:?}")),
                    };
                    self.pos += 1;
                    let value = if self.is_punct(':') {
                        self.pos += 1;
                        self.expr()?
                    } else {
                        Js::Name(key.clone())
                    };
                    fields.push((key, value));
                    if self.is_punct(',') {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                self.expect('}')?;
                Js::Object(fields)
            }
            Tok::Punct('(') => {
                let inner = self.expr()?;
                self.expect(')')?;
                inner
            }
            Tok::Ident(w) if w == "true" => Js::Bool(true),
            Tok::Ident(w) if w == "false" => Js::Bool(false),
            Tok::Ident(w) if w == "undefined" => Js::Undefined,
            Tok::Ident(w) if w == "null" => Js::Null,
            Tok::Ident(w) if w == "new" => self.term()?,
            Tok::Ident(mut name) => {
                while self.is_punct('.') {
                    self.pos += 1;
                    match self.peek().cloned() {
                        Some(Tok::Ident(part)) => {
                            self.pos += 1;
                            name.push('.');
                            name.push_str(&part);
                        }
                        other => return Err(format!("name expected after `.`, found {other:?}")),
                    }
                }
                if self.is_punct('(') {
                    self.pos += 1;
                    let args = self.args()?;
                    if self.is_punct('.') {
                        // `get_host_info().HTTP_ORIGIN`: a member of a call's result.
                        let mut member = format!("{name}()");
                        while self.is_punct('.') {
                            self.pos += 1;
                            match self.peek().cloned() {
                                Some(Tok::Ident(part)) => {
                                    self.pos += 1;
                                    member.push('.');
                                    member.push_str(&part);
                                }
                                other => {
                                    return Err(format!(
                                        "name expected after `.`, found {other:?}"
                                    ));
                                }
                            }
                        }
                        if self.is_punct('(') {
                            self.pos += 1;
                            Js::Call(member, self.args()?)
                        } else {
                            Js::Name(member)
                        }
                    } else {
                        Js::Call(name, args)
                    }
                } else {
                    Js::Name(name)
                }
            }
            other => {
                self.pos -= 1;
                let _ = other;
                Js::Other(self.skip_expr())
            }
        };
        Ok(value)
    }

    /// Arguments up to and including the closing `)` (the `(` already read).
    fn args(&mut self) -> Result<Vec<Js>, String> {
        let mut args = Vec::new();
        while !self.is_punct(')') {
            args.push(self.expr()?);
            if self.is_punct(',') {
                self.pos += 1;
            } else {
                break;
            }
        }
        self.expect(')')?;
        Ok(args)
    }
}

/// Folds a sum of literals into one string (or number); keeps a `Sum` otherwise.
fn fold(parts: Vec<Js>) -> Js {
    if parts.len() == 1 {
        return parts.into_iter().next().unwrap_or(Js::Undefined);
    }
    if parts.iter().all(|p| matches!(p, Js::Num(_))) {
        return Js::Num(parts.iter().filter_map(Js::num).sum());
    }
    if parts.iter().all(|p| matches!(p, Js::Str(_) | Js::Num(_))) {
        let mut s = String::new();
        for p in &parts {
            match p {
                Js::Str(x) => s.push_str(x),
                Js::Num(n) => s.push_str(&n.to_string()),
                _ => {}
            }
        }
        return Js::Str(s);
    }
    Js::Sum(parts)
}

/// The arguments of every call of `name(…)` in `src` (not its definition, not a longer
/// name, not a method of something else), in source order.
pub(crate) fn calls(src: &str, name: &str) -> Result<Vec<Vec<Js>>, String> {
    let toks = tokenize(src)?;
    let mut out = Vec::new();
    for i in 0..toks.len() {
        if toks[i] != Tok::Ident(name.to_owned()) || toks.get(i + 1) != Some(&Tok::Punct('(')) {
            continue;
        }
        if i > 0 && matches!(&toks[i - 1], Tok::Ident(w) if w == "function") {
            continue;
        }
        if i > 0 && toks[i - 1] == Tok::Punct('.') {
            continue;
        }
        let mut p = Parser {
            toks: toks.clone(),
            pos: i + 2,
        };
        out.push(
            p.args()
                .map_err(|e| format!("{name}(…) call {}: {e}", out.len() + 1))?,
        );
    }
    Ok(out)
}

/// Every array literal written as `[…].forEach(name)` or `for (… of […])`, in order:
/// the tables a test loops over. With `name` None, the `for … of` arrays only.
pub(crate) fn loop_arrays(src: &str) -> Result<Vec<Vec<Js>>, String> {
    let toks = tokenize(src)?;
    let mut out = Vec::new();
    for i in 0..toks.len() {
        // `of [` … `]`
        if matches!(&toks[i], Tok::Ident(w) if w == "of")
            && toks.get(i + 1) == Some(&Tok::Punct('['))
        {
            let mut p = Parser {
                toks: toks.clone(),
                pos: i + 1,
            };
            if let Js::Array(a) = p.term()? {
                out.push(a);
            }
        }
    }
    Ok(out)
}

/// The array literal just before each `.forEach(name)`.
pub(crate) fn for_each_arrays(src: &str, name: &str) -> Result<Vec<Vec<Js>>, String> {
    let toks = tokenize(src)?;
    let mut out = Vec::new();
    for i in 0..toks.len() {
        let is_call = toks[i] == Tok::Ident("forEach".into())
            && i >= 2
            && toks[i - 1] == Tok::Punct('.')
            && toks[i - 2] == Tok::Punct(']')
            && toks.get(i + 1) == Some(&Tok::Punct('('))
            && toks.get(i + 2) == Some(&Tok::Ident(name.to_owned()));
        if !is_call {
            continue;
        }
        // Back to the matching `[`.
        let mut depth = 0i32;
        let mut j = i - 2;
        loop {
            match &toks[j] {
                Tok::Punct(']') => depth += 1,
                Tok::Punct('[') => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            if j == 0 {
                return Err(format!("unbalanced array before .forEach({name})"));
            }
            j -= 1;
        }
        let mut p = Parser {
            toks: toks.clone(),
            pos: j,
        };
        if let Js::Array(a) = p.term()? {
            out.push(a);
        }
    }
    Ok(out)
}

/// The value bound to `name` by a `var|let|const` declaration in `src` (also a later
/// declarator, `const a = 1, name = 2`): the top-level one when there is one, else the
/// first inside a function.
pub(crate) fn binding(src: &str, name: &str) -> Result<Option<Js>, String> {
    let toks = tokenize(src)?;
    let mut depth = 0i32;
    let mut in_declaration = false;
    let mut found: Option<(i32, usize)> = None;
    for i in 0..toks.len() {
        match &toks[i] {
            Tok::Punct('{' | '(' | '[') => depth += 1,
            Tok::Punct('}' | ')' | ']') => depth -= 1,
            Tok::Punct(';') => in_declaration = false,
            Tok::Ident(w) if w == "var" || w == "let" || w == "const" => in_declaration = true,
            _ => {}
        }
        let declares = i > 0
            && toks[i] == Tok::Ident(name.to_owned())
            && toks.get(i + 1) == Some(&Tok::Punct('='))
            && match &toks[i - 1] {
                Tok::Ident(w) => w == "var" || w == "let" || w == "const",
                Tok::Punct(',') => in_declaration,
                _ => false,
            };
        if declares && found.is_none_or(|(d, _)| depth < d) {
            found = Some((depth, i + 2));
        }
    }
    let Some((_, pos)) = found else {
        return Ok(None);
    };
    let mut p = Parser { toks, pos };
    p.expr().map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_helper_calls_with_literals_names_and_sums() {
        let src = r#"
            function corsPreflight(desc, url, method, ok) { corsPreflight2(); }
            // corsPreflight("commented out", 1);
            corsPreflight("Allow \"PUT\"" + ' x', host_info.HTTP_REMOTE_ORIGIN + "/p", "PUT", true, ["a", 'b'], {"mode": "cors", x: 1});
            obj.corsPreflight("not this one");
            corsPreflight('tab\t\u0001', undefined, -1, false);
        "#;
        let calls = calls(src, "corsPreflight").unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0][0], Js::Str("Allow \"PUT\" x".into()));
        assert_eq!(
            calls[0][1],
            Js::Sum(vec![
                Js::Name("host_info.HTTP_REMOTE_ORIGIN".into()),
                Js::Str("/p".into())
            ])
        );
        assert_eq!(calls[0][3], Js::Bool(true));
        assert_eq!(calls[0][4].array().map(<[Js]>::len), Some(2));
        assert_eq!(calls[0][5].get("mode"), Some(&Js::Str("cors".into())));
        assert_eq!(calls[1][0], Js::Str("tab\t\u{1}".into()));
        assert_eq!(calls[1][2], Js::Num(-1.0));
    }

    #[test]
    fn reads_loop_tables() {
        let src = "[200, 299,\n 300].forEach(preflight_failure);\nfor (const code of [301, 302]) { f(code); }";
        assert_eq!(
            for_each_arrays(src, "preflight_failure").unwrap(),
            vec![vec![Js::Num(200.0), Js::Num(299.0), Js::Num(300.0)]]
        );
        assert_eq!(
            loop_arrays(src).unwrap(),
            vec![vec![Js::Num(301.0), Js::Num(302.0)]]
        );
    }

    #[test]
    fn keeps_what_it_cannot_read_as_text() {
        let c = calls("f(a ? 1 : 2, x => x + 1, 3)", "f").unwrap();
        assert!(matches!(c[0][0], Js::Other(_)));
        assert!(matches!(c[0][1], Js::Other(_)));
        assert_eq!(c[0][2], Js::Num(3.0));
    }
}
