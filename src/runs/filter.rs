//! The filter language of `runs list --filter`, in the spirit of MLflow's search:
//! `auc > 0.78 and (condition.mode = group or tag = keep)`, and the sort keys of `--sort`.
//!
//! A comparison is `KEY OP VALUE` with OP one of `= != < <= > >=` (`==` is `=`); VALUE is
//! a number, a quoted string ('...' or "...") or a bare word (`group`, `cuda:0`). `and`
//! binds tighter than `or`; parentheses group. A comparison with a value the run lacks
//! (no test AUC yet, the condition of a static model) is false, whatever the operator. On
//! a list (tags, condition fields) `=` holds when one element is equal, `!=` when none is.

use std::cmp::Ordering;
use std::fmt;

use crate::runs::columns::{COLUMNS, KeyName, Kind, RunRow, Value};

/// A filter that did not parse: where (1-based character position) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// `filter` or `sort key`.
    pub what: &'static str,
    pub expression: String,
    pub position: usize,
    pub message: String,
}

impl std::error::Error for FilterError {}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad {} at position {}: {}\n  {}\n  {}^",
            self.what,
            self.position,
            self.message,
            self.expression,
            " ".repeat(self.position.saturating_sub(1))
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Op::Eq => ordering == Ordering::Equal,
            Op::Ne => ordering != Ordering::Equal,
            Op::Lt => ordering == Ordering::Less,
            Op::Le => ordering != Ordering::Greater,
            Op::Gt => ordering == Ordering::Greater,
            Op::Ge => ordering != Ordering::Less,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Number(f64),
    Text(String),
}

#[derive(Debug, Clone)]
enum Expr {
    Compare {
        key: KeyName,
        op: Op,
        value: Literal,
    },
    /// Flat lists rather than nested pairs, so that a long chain `a and b and c ...` is
    /// one level deep: matching and dropping recurse once per level.
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

/// Deepest nesting of parentheses a filter may have: parsing and matching recurse once
/// per level, and thousands of levels would overflow the stack.
const MAX_DEPTH: usize = 64;

/// A parsed filter expression.
#[derive(Debug, Clone)]
pub struct Filter {
    expr: Expr,
}

impl Filter {
    pub fn parse(expression: &str) -> Result<Filter, FilterError> {
        let tokens = tokenize(expression)?;
        let end = expression.chars().count() + 1;
        let mut parser = Parser { expression, tokens, next: 0, depth: 0, end };
        if parser.tokens.is_empty() {
            return Err(parser.error(1, "the filter is empty"));
        }
        let expr = parser.or()?;
        if let Some(token) = parser.peek() {
            let message = format!("expected `and`, `or` or the end of the filter, found {}", token.describe());
            return Err(parser.error(token.position, message));
        }
        Ok(Filter { expr })
    }

    pub fn matches(&self, row: &RunRow) -> bool {
        self.expr.matches(row)
    }
}

impl Expr {
    fn matches(&self, row: &RunRow) -> bool {
        match self {
            Expr::And(all) => all.iter().all(|e| e.matches(row)),
            Expr::Or(any) => any.iter().any(|e| e.matches(row)),
            Expr::Compare { key, op, value } => match (key.read(row), value) {
                (Value::Number(x), Literal::Number(y)) => op.holds(x.total_cmp(y)),
                (Value::Text(x), Literal::Text(y)) => op.holds(x.cmp(y.as_str())),
                (Value::List(items), Literal::Text(y)) => {
                    let any = items.iter().any(|item| item == y);
                    if *op == Op::Ne { !any } else { any }
                }
                _ => false,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum TokenKind {
    /// A key, a bare-word value, `and` or `or`: which one depends on the place.
    Word(String),
    Number(f64),
    Quoted(String),
    Op(Op),
    Open,
    Close,
}

#[derive(Debug, Clone)]
struct Token {
    kind: TokenKind,
    /// 1-based character position of its first character.
    position: usize,
    /// The text it was read from.
    text: String,
}

impl Token {
    fn describe(&self) -> String {
        format!("`{}`", self.text)
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(&self.kind, TokenKind::Word(w) if w.eq_ignore_ascii_case(word))
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '+' | ':' | '/' | '@')
}

fn tokenize(expression: &str) -> Result<Vec<Token>, FilterError> {
    let error = |position, message: String| FilterError {
        what: "filter",
        expression: expression.to_string(),
        position,
        message,
    };
    let chars: Vec<char> = expression.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let position = i + 1;
        let start = i;
        let kind = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => {
                i += 1;
                TokenKind::Open
            }
            ')' => {
                i += 1;
                TokenKind::Close
            }
            '=' | '!' | '<' | '>' => {
                let two = chars.get(i + 1) == Some(&'=');
                i += if two { 2 } else { 1 };
                match (c, two) {
                    ('=', _) => TokenKind::Op(Op::Eq),
                    ('!', true) => TokenKind::Op(Op::Ne),
                    ('<', false) => TokenKind::Op(Op::Lt),
                    ('<', true) => TokenKind::Op(Op::Le),
                    ('>', false) => TokenKind::Op(Op::Gt),
                    ('>', true) => TokenKind::Op(Op::Ge),
                    _ => return Err(error(position, "`!` must be followed by `=`".into())),
                }
            }
            '"' | '\'' => {
                let close = chars[i + 1..].iter().position(|&d| d == c);
                let Some(length) = close else {
                    return Err(error(position, format!("the string opened with {c} is not closed")));
                };
                i += length + 2;
                TokenKind::Quoted(chars[start + 1..i - 1].iter().collect())
            }
            c if is_word_char(c) => {
                while i < chars.len() && is_word_char(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                match word.parse::<f64>() {
                    Ok(number) if number.is_finite() => TokenKind::Number(number),
                    _ => TokenKind::Word(word),
                }
            }
            other => return Err(error(position, format!("unexpected character `{other}`"))),
        };
        tokens.push(Token { kind, position, text: chars[start..i].iter().collect() });
    }
    Ok(tokens)
}

struct Parser<'a> {
    expression: &'a str,
    tokens: Vec<Token>,
    next: usize,
    /// Parentheses open around the token being parsed.
    depth: usize,
    /// Position just past the last character, counted once: every comparison asks.
    end: usize,
}

impl Parser<'_> {
    fn error(&self, position: usize, message: impl Into<String>) -> FilterError {
        FilterError { what: "filter", expression: self.expression.to_string(), position, message: message.into() }
    }

    /// Where the end of the expression is, for errors that found nothing more.
    fn end(&self) -> usize {
        self.end
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn take(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.next).cloned();
        self.next += 1;
        token
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut any = vec![self.and()?];
        while self.peek().is_some_and(|t| t.keyword("or")) {
            self.next += 1;
            any.push(self.and()?);
        }
        Ok(if any.len() == 1 { any.remove(0) } else { Expr::Or(any) })
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut all = vec![self.primary()?];
        while self.peek().is_some_and(|t| t.keyword("and")) {
            self.next += 1;
            all.push(self.primary()?);
        }
        Ok(if all.len() == 1 { all.remove(0) } else { Expr::And(all) })
    }

    fn primary(&mut self) -> Result<Expr, FilterError> {
        let end = self.end();
        let Some(token) = self.take() else {
            return Err(self.error(end, "expected a comparison such as `auc > 0.78`, found the end of the filter"));
        };
        match &token.kind {
            TokenKind::Open => {
                if self.depth == MAX_DEPTH {
                    return Err(self.error(
                        token.position,
                        format!("parentheses nested more than {MAX_DEPTH} deep; write the filter with fewer"),
                    ));
                }
                self.depth += 1;
                let expr = self.or()?;
                self.depth -= 1;
                match self.take() {
                    Some(Token { kind: TokenKind::Close, .. }) => Ok(expr),
                    Some(other) => Err(self.error(
                        other.position,
                        format!(
                            "expected `)` to close the `(` at position {}, found {}",
                            token.position,
                            other.describe()
                        ),
                    )),
                    None => Err(self.error(
                        end,
                        format!(
                            "expected `)` to close the `(` at position {}, found the end of the filter",
                            token.position
                        ),
                    )),
                }
            }
            TokenKind::Word(word) if !token.keyword("and") && !token.keyword("or") => {
                let Some(key) = KeyName::parse(word) else {
                    return Err(self.error(token.position, unknown_key(word)));
                };
                self.comparison(key, &token)
            }
            _ => {
                Err(self
                    .error(token.position, format!("expected a key such as `auc` or `(`, found {}", token.describe())))
            }
        }
    }

    fn comparison(&mut self, key: KeyName, key_token: &Token) -> Result<Expr, FilterError> {
        let end = self.end();
        let op = match self.take() {
            Some(Token { kind: TokenKind::Op(op), .. }) => op,
            Some(other) => {
                let message = format!(
                    "expected a comparison (= != < <= > >=) after `{}`, found {}",
                    key_token.text,
                    other.describe()
                );
                return Err(self.error(other.position, message));
            }
            None => {
                let message = format!(
                    "expected a comparison (= != < <= > >=) after `{}`, found the end of the filter",
                    key_token.text
                );
                return Err(self.error(end, message));
            }
        };
        let op_text = self.tokens[self.next - 1].text.clone();
        let Some(value_token) = self.take() else {
            return Err(self.error(end, format!("expected a value after `{op_text}`, found the end of the filter")));
        };
        let name = key.name();
        let value = match (&value_token.kind, key.kind()) {
            (TokenKind::Number(n), Kind::Number) => Literal::Number(*n),
            (TokenKind::Word(_) | TokenKind::Quoted(_), Kind::Number) => {
                return Err(self.error(
                    value_token.position,
                    format!("`{name}` is a number: {} is not one", value_token.describe()),
                ));
            }
            // Text keys take a number as it was written: `seed`-like ids, `K = 8`.
            (TokenKind::Number(_), _) | (TokenKind::Word(_), _) => Literal::Text(value_token.text.clone()),
            (TokenKind::Quoted(text), _) => Literal::Text(text.clone()),
            _ => {
                return Err(self.error(
                    value_token.position,
                    format!("expected a value after `{op_text}`, found {}", value_token.describe()),
                ));
            }
        };
        if key.kind() == Kind::List && !matches!(op, Op::Eq | Op::Ne) {
            return Err(
                self.error(key_token.position, format!("`{name}` holds several values: compare it with = or != only"))
            );
        }
        Ok(Expr::Compare { key, op, value })
    }
}

/// The message for a key that names no column, with the nearest one when it is close.
fn unknown_key(word: &str) -> String {
    let lower = word.to_ascii_lowercase();
    let nearest = COLUMNS
        .iter()
        .flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied()))
        .map(|name| (edit_distance(&lower, name), name))
        .min();
    let hint = match nearest {
        Some((distance, name)) if distance <= 2 => format!(" (did you mean `{name}`?)"),
        _ => String::new(),
    };
    format!("unknown key `{word}`{hint}; `apg-bench runs list --help` lists the keys")
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// `--sort KEY` (ascending) or `--sort -KEY` (descending).
#[derive(Debug, Clone)]
pub struct SortKey {
    pub key: KeyName,
    pub descending: bool,
}

impl SortKey {
    pub fn parse(text: &str) -> Result<SortKey, FilterError> {
        let (descending, name) = match text.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let error =
            |message: String| FilterError { what: "sort key", expression: text.to_string(), position: 1, message };
        let key = KeyName::parse(name).ok_or_else(|| error(unknown_key(name)))?;
        if key.kind() == Kind::List {
            return Err(error(format!("`{}` holds several values and cannot be sorted by", key.name())));
        }
        Ok(SortKey { key, descending })
    }

    /// Orders rows by the key; rows without a value come last in either direction, and
    /// ties keep the id order.
    pub fn compare(&self, a: &RunRow, b: &RunRow) -> Ordering {
        let by_value = match (self.key.read(a), self.key.read(b)) {
            (Value::Missing, Value::Missing) => Ordering::Equal,
            (Value::Missing, _) => return Ordering::Greater,
            (_, Value::Missing) => return Ordering::Less,
            (Value::Number(x), Value::Number(y)) => x.total_cmp(&y),
            (Value::Text(x), Value::Text(y)) => x.cmp(y),
            _ => Ordering::Equal,
        };
        let by_value = if self.descending { by_value.reverse() } else { by_value };
        by_value.then_with(|| a.id.cmp(&b.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(expression: &str) -> String {
        Filter::parse(expression).unwrap_err().to_string()
    }

    #[test]
    fn errors_point_at_the_problem() {
        assert_eq!(
            message("auc > "),
            "bad filter at position 7: expected a value after `>`, found the end of the filter\n  auc > \n        ^"
        );
        assert!(message("acu > 0.7").starts_with("bad filter at position 1: unknown key `acu` (did you mean `auc`?)"));
        assert!(message("auc 0.7").contains("position 5: expected a comparison (= != < <= > >=) after `auc`"));
        assert!(message("(auc > 0.7").contains("expected `)` to close the `(` at position 1"));
        assert!(message("auc > 0.7 seed = 1").contains("position 11: expected `and`, `or` or the end"));
        assert!(message("auc > high").contains("`test.auc` is a number: `high` is not one"));
        assert!(message("tag > a").contains("`tag` holds several values"));
        assert!(message("note = 'open").contains("position 8: the string opened with ' is not closed"));
        assert!(message("auc ! 1").contains("`!` must be followed by `=`"));
        assert!(message("   ").contains("the filter is empty"));
        assert!(message("auc > 0.7 and").contains("found the end of the filter"));
    }

    #[test]
    fn nesting_is_limited_before_the_stack_runs_out() {
        let deep = |levels: usize| format!("{}auc > 0.5{}", "(".repeat(levels), ")".repeat(levels));
        assert!(Filter::parse(&deep(MAX_DEPTH)).is_ok());
        let error = Filter::parse(&deep(7000)).unwrap_err();
        assert_eq!(error.position, 65);
        assert_eq!(error.message, "parentheses nested more than 64 deep; write the filter with fewer");
    }

    #[test]
    fn long_chains_stay_flat() {
        // 100,000 comparisons joined by `and`, then by `or`: one level each, so neither
        // matching nor dropping them recurses per comparison.
        for joiner in [" and ", " or "] {
            let chain = vec!["seed = 1"; 100_000].join(joiner);
            let filter = Filter::parse(&chain).unwrap();
            assert!(matches!(&filter.expr, Expr::And(all) | Expr::Or(all) if all.len() == 100_000));
        }
    }

    #[test]
    fn edit_distance_by_hand() {
        assert_eq!(edit_distance("acu", "auc"), 2);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "ab"), 2);
    }
}
