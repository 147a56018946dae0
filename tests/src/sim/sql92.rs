//! SQL92 message selectors, parsed and evaluated the way Apache RocketMQ's broker does
//! (`org.apache.rocketmq.filter`: the JavaCC `SelectorParser` taken from ActiveMQ, and
//! its `ComparisonExpression` / `LogicExpression` / `UnaryExpression`).
//!
//! Test-support code: a small hand-written lexer, a recursive-descent parser that
//! mirrors the Java grammar rule for rule, and a tree-walking evaluator over Java's boxed
//! values. Clarity over speed; quirks are kept where a client could observe them.
//!
//! # Language
//!
//! ```text
//! selector   := or                       (must be boolean, see below)
//! or         := and ( OR and )*
//! and        := equality ( AND equality )*
//! equality   := comparison ( '=' comparison | '<>' comparison | IS NULL | IS NOT NULL )*
//! comparison := unary ( ('>' | '>=' | '<' | '<=') unary
//!                     | [NOT] BETWEEN unary AND unary
//!                     | [NOT] IN '(' string ( ',' string )* ')'
//!                     | [NOT] (CONTAINS | STARTSWITH | ENDSWITH) string )*
//! unary      := '+' unary | '-' unary | NOT unary | primary
//! primary    := literal | identifier | '(' or ')'
//! literal    := 'string' ('' escapes a quote) | 123 | 123L | 1.5 | .5 | 1e3 | TRUE | FALSE | NULL
//! ```
//!
//! Keywords are case-insensitive; identifiers are `[A-Za-z_$][A-Za-z0-9_$]*` and name
//! message properties (case-sensitive, every property of the stored message: user
//! properties, `TAGS`, `KEYS`, …). `--` line comments and `/* */` block comments are
//! skipped. There is no `!=` or `==` (a syntax error, as in Java: write `<>`).
//!
//! Precedence, loosest first: OR, AND, `=` / `<>` / IS, the other comparisons, then the
//! unary operators — so NOT binds tighter than AND, which binds tighter than OR, and
//! also tighter than a comparison: `NOT a = 1` is `(NOT a) = 1` and `NOT a > 3` is a
//! syntax error (write `NOT (a > 3)`), exactly as in Java.
//!
//! # Values
//!
//! Literals are Java `Integer` (a decimal that fits 32 bits), `Long`, `Double`,
//! `Boolean`, `String` or null; a property is a `String` or null (missing). Comparing a
//! string with a number parses the string as that number's type (`Integer.valueOf`,
//! `Long.valueOf`, `Double.valueOf`); `>`/`>=`/`<`/`<=` between two strings parse both
//! as doubles. A string that does not parse throws in Java: the whole evaluation fails
//! and the message does not match (even under an OR that another branch would make
//! true). Three-valued logic otherwise: a missing property makes a comparison NULL, AND
//! / OR / NOT follow SQL, and a message matches only if the selector is TRUE.
//!
//! Parse-time checks Java makes are made too: only numbers (or properties / negations)
//! on either side of `>` `>=` `<` `<=`; no NULL literal beside `=` / `<>`; the left of
//! IN must be a property; constant BETWEEN bounds must be ordered; AND / OR / NOT / the
//! selector itself need boolean operands (a bare property is cast: TRUE only if its value
//! is a `Boolean`, which a string never is — so it is FALSE when present); a float literal
//! must be positive and finite (Java rejects `0.0`).

use std::cmp::Ordering;
use std::fmt;

/// A compiled selector.
#[derive(Debug, Clone)]
pub struct Selector {
    root: Expr,
}

/// Why an expression does not compile (Java's `MQFilterException`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset in the expression where the problem was seen.
    pub at: usize,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Invalid MessageSelector at {}: {}",
            self.at, self.message
        )
    }
}

/// A Java exception thrown while evaluating (a string that is not a number, a cast that
/// fails): the broker logs it and the message does not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault(pub String);

impl Selector {
    /// Compile `sql` (Java `SqlFilter.compile`).
    pub fn parse(sql: &str) -> Result<Selector, ParseError> {
        let tokens = lex(sql)?;
        let mut p = Parser { tokens, pos: 0 };
        let e = p.or_expr()?;
        if p.peek() != &Tok::Eof {
            return Err(p.error(format!("unexpected {:?}", p.peek())));
        }
        let root = p.as_boolean(e)?;
        Ok(Selector { root })
    }

    /// Evaluate against a message's properties: `Ok(Some(b))` TRUE / FALSE, `Ok(None)`
    /// NULL, `Err` a Java exception.
    pub fn evaluate(&self, props: &dyn Fn(&str) -> Option<String>) -> Result<Option<bool>, Fault> {
        match eval(&self.root, props)? {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(b)),
            other => Err(Fault(format!("not a boolean: {other:?}"))),
        }
    }

    /// Whether the broker delivers a message with these properties
    /// (`ExpressionMessageFilter.isMatchedByCommitLog`: only TRUE matches).
    pub fn matches(&self, props: &dyn Fn(&str) -> Option<String>) -> bool {
        matches!(self.evaluate(props), Ok(Some(true)))
    }
}

// ---------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Not,
    And,
    Or,
    Between,
    In,
    True,
    False,
    Null,
    Is,
    Contains,
    StartsWith,
    EndsWith,
    /// Digits of a decimal literal (an `L` suffix already stripped).
    Decimal(String),
    /// Text of a floating point literal.
    Float(String),
    /// A string literal, unescaped.
    Str(String),
    Id(String),
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    LParen,
    Comma,
    RParen,
    Plus,
    Minus,
    Eof,
}

fn keyword(word: &str) -> Option<Tok> {
    Some(match word.to_ascii_uppercase().as_str() {
        "NOT" => Tok::Not,
        "AND" => Tok::And,
        "OR" => Tok::Or,
        "BETWEEN" => Tok::Between,
        "IN" => Tok::In,
        "TRUE" => Tok::True,
        "FALSE" => Tok::False,
        "NULL" => Tok::Null,
        "IS" => Tok::Is,
        "CONTAINS" => Tok::Contains,
        "STARTSWITH" => Tok::StartsWith,
        "ENDSWITH" => Tok::EndsWith,
        _ => return None,
    })
}

fn lex_error(at: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        at,
        message: message.into(),
    }
}

/// Split `sql` into (byte offset, token) pairs, ending with `Eof`.
fn lex(sql: &str) -> Result<Vec<(usize, Tok)>, ParseError> {
    let b = sql.as_bytes();
    let digits_from = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    // Where an exponent (`e`, optional sign, digits) starting at `i` ends, if there is one.
    let exponent_at = |i: usize| -> Option<usize> {
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            let mut j = i + 1;
            if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                j += 1;
            }
            let end = digits_from(j);
            (end > j).then_some(end)
        } else {
            None
        }
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0c) {
            i += 1;
            continue;
        }
        // A line comment needs its line end (JavaCC would otherwise see two minuses).
        if sql[i..].starts_with("--") {
            if let Some(n) = sql[i..].find(['\n', '\r']) {
                i += n + 1;
                continue;
            }
        }
        if sql[i..].starts_with("/*") {
            match sql[i + 2..].find("*/") {
                Some(n) => i += 2 + n + 2,
                None => return Err(lex_error(i, "unterminated comment")),
            }
            continue;
        }
        let two = &b[i..(i + 2).min(b.len())];
        let (tok, len) = match c {
            b'<' if two == b"<>" => (Tok::Ne, 2),
            b'<' if two == b"<=" => (Tok::Le, 2),
            b'>' if two == b">=" => (Tok::Ge, 2),
            b'<' => (Tok::Lt, 1),
            b'>' => (Tok::Gt, 1),
            b'=' => (Tok::Eq, 1),
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b',' => (Tok::Comma, 1),
            b'+' => (Tok::Plus, 1),
            b'-' => (Tok::Minus, 1),
            b'\'' => {
                let mut s = String::new();
                let mut j = i + 1;
                loop {
                    match sql[j..].find('\'') {
                        None => return Err(lex_error(i, "unterminated string literal")),
                        Some(n) => {
                            s.push_str(&sql[j..j + n]);
                            j += n + 1;
                            if b.get(j) == Some(&b'\'') {
                                s.push('\'');
                                j += 1;
                            } else {
                                break;
                            }
                        }
                    }
                }
                (Tok::Str(s), j - i)
            }
            b'0'..=b'9' | b'.' if c != b'.' || b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let int_end = digits_from(i);
                if b.get(int_end) == Some(&b'.') {
                    // 5.5  5.  .5  with an optional exponent
                    let frac_end = digits_from(int_end + 1);
                    let end = exponent_at(frac_end).unwrap_or(frac_end);
                    (Tok::Float(sql[i..end].to_owned()), end - i)
                } else if let Some(end) = exponent_at(int_end) {
                    (Tok::Float(sql[i..end].to_owned()), end - i)
                } else if c == b'0' {
                    // DECIMAL_LITERAL is "0" or [1-9][0-9]*[lL]?: "007" is three tokens.
                    (Tok::Decimal("0".into()), 1)
                } else if matches!(b.get(int_end), Some(b'l' | b'L')) {
                    (Tok::Decimal(sql[i..int_end].to_owned()), int_end + 1 - i)
                } else {
                    (Tok::Decimal(sql[i..int_end].to_owned()), int_end - i)
                }
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' | b'$' => {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'$')
                {
                    j += 1;
                }
                let word = &sql[i..j];
                (
                    keyword(word).unwrap_or_else(|| Tok::Id(word.to_owned())),
                    j - i,
                )
            }
            _ => {
                let ch = sql[i..].chars().next().unwrap_or('?');
                return Err(lex_error(i, format!("unexpected character {ch:?}")));
            }
        };
        out.push((start, tok));
        i += len;
    }
    out.push((sql.len(), Tok::Eof));
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Syntax tree

/// A Java value: `null`, `Boolean`, `Integer`, `Long`, `Double` or `String`.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Gt,
    Ge,
    Lt,
    Le,
}

impl Order {
    fn holds(self, o: Ordering) -> bool {
        match self {
            Order::Gt => o == Ordering::Greater,
            Order::Ge => o != Ordering::Less,
            Order::Lt => o == Ordering::Less,
            Order::Le => o != Ordering::Greater,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextOp {
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone)]
enum Expr {
    /// A literal (`ConstantExpression`; TRUE / FALSE / NULL are boolean constants).
    Const(Value),
    /// A message property.
    Property(String),
    /// Unary minus: numbers negated, anything else NULL.
    Negate(Box<Expr>),
    Not(Box<Expr>),
    /// A property used as a boolean: TRUE / FALSE only for a `Boolean` value.
    BoolCast(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    /// `=` (and IS NULL, without the operand checks).
    Equal(Box<Expr>, Box<Expr>),
    Compare(Order, Box<Expr>, Box<Expr>),
    In {
        property: String,
        list: Vec<String>,
        negated: bool,
    },
    Text {
        op: TextOp,
        operand: Box<Expr>,
        search: String,
        negated: bool,
    },
}

impl Expr {
    /// Java's `instanceof BooleanExpression`.
    fn is_boolean(&self) -> bool {
        match self {
            Expr::Const(v) => matches!(v, Value::Bool(_) | Value::Null),
            Expr::Property(_) | Expr::Negate(_) => false,
            Expr::Not(_)
            | Expr::BoolCast(_)
            | Expr::And(..)
            | Expr::Or(..)
            | Expr::Equal(..)
            | Expr::Compare(..)
            | Expr::In { .. }
            | Expr::Text { .. } => true,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parser

struct Parser {
    tokens: Vec<(usize, Tok)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> &Tok {
        let i = (self.pos + n).min(self.tokens.len() - 1);
        &self.tokens[i].1
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, t: &Tok) -> bool {
        if self.peek() == t {
            self.next();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, t: &Tok) -> Result<(), ParseError> {
        if self.eat(t) {
            Ok(())
        } else {
            Err(self.error(format!("expected {t:?}, found {:?}", self.peek())))
        }
    }

    fn error(&self, message: String) -> ParseError {
        let at = self.tokens[self.pos.min(self.tokens.len() - 1)].0;
        ParseError { at, message }
    }

    /// `asBooleanExpression`: boolean expressions as they are, a property cast.
    fn as_boolean(&self, e: Expr) -> Result<Expr, ParseError> {
        match e {
            e if e.is_boolean() => Ok(e),
            Expr::Property(_) => Ok(Expr::BoolCast(Box::new(e))),
            e => Err(self.error(format!(
                "Expression will not result in a boolean value: {e:?}"
            ))),
        }
    }

    fn or_expr(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.and_expr()?;
        while self.eat(&Tok::Or) {
            let right = self.and_expr()?;
            left = Expr::Or(
                Box::new(self.as_boolean(left)?),
                Box::new(self.as_boolean(right)?),
            );
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.equality_expr()?;
        while self.eat(&Tok::And) {
            let right = self.equality_expr()?;
            left = Expr::And(
                Box::new(self.as_boolean(left)?),
                Box::new(self.as_boolean(right)?),
            );
        }
        Ok(left)
    }

    fn equality_expr(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.comparison_expr()?;
        loop {
            match self.peek() {
                Tok::Eq => {
                    self.next();
                    let right = self.comparison_expr()?;
                    left = self.create_equal(left, right)?;
                }
                Tok::Ne => {
                    self.next();
                    let right = self.comparison_expr()?;
                    left = Expr::Not(Box::new(self.create_equal(left, right)?));
                }
                Tok::Is => {
                    self.next();
                    let negated = self.eat(&Tok::Not);
                    self.expect(&Tok::Null)?;
                    let is_null = Expr::Equal(Box::new(left), Box::new(Expr::Const(Value::Null)));
                    left = if negated {
                        Expr::Not(Box::new(is_null))
                    } else {
                        is_null
                    };
                }
                _ => return Ok(left),
            }
        }
    }

    fn comparison_expr(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.unary_expr()?;
        loop {
            let order = match self.peek() {
                Tok::Gt => Some(Order::Gt),
                Tok::Ge => Some(Order::Ge),
                Tok::Lt => Some(Order::Lt),
                Tok::Le => Some(Order::Le),
                _ => None,
            };
            if let Some(order) = order {
                self.next();
                let right = self.unary_expr()?;
                left = self.create_compare(order, left, right)?;
                continue;
            }
            // NOT here only as NOT BETWEEN / NOT IN / NOT CONTAINS …
            let negated = self.peek() == &Tok::Not
                && matches!(
                    self.peek_at(1),
                    Tok::Between | Tok::In | Tok::Contains | Tok::StartsWith | Tok::EndsWith
                );
            if negated {
                self.next();
            }
            match self.peek() {
                Tok::Between => {
                    self.next();
                    let low = self.unary_expr()?;
                    self.expect(&Tok::And)?;
                    let high = self.unary_expr()?;
                    left = if negated {
                        Expr::Or(
                            Box::new(self.create_compare(Order::Lt, left.clone(), low)?),
                            Box::new(self.create_compare(Order::Gt, left, high)?),
                        )
                    } else {
                        self.create_between(left, low, high)?
                    };
                }
                Tok::In => {
                    self.next();
                    self.expect(&Tok::LParen)?;
                    let mut list = vec![self.string_literal()?];
                    while self.eat(&Tok::Comma) {
                        list.push(self.string_literal()?);
                    }
                    self.expect(&Tok::RParen)?;
                    left = match left {
                        Expr::Property(property) => Expr::In {
                            property,
                            list,
                            negated,
                        },
                        other => {
                            return Err(self.error(format!(
                                "Expected a property for In expression, got: {other:?}"
                            )))
                        }
                    };
                }
                Tok::Contains | Tok::StartsWith | Tok::EndsWith => {
                    let op = match self.next() {
                        Tok::Contains => TextOp::Contains,
                        Tok::StartsWith => TextOp::StartsWith,
                        _ => TextOp::EndsWith,
                    };
                    let search = self.string_literal()?;
                    left = Expr::Text {
                        op,
                        operand: Box::new(left),
                        search,
                        negated,
                    };
                }
                _ => return Ok(left),
            }
        }
    }

    fn unary_expr(&mut self) -> Result<Expr, ParseError> {
        match self.peek() {
            Tok::Plus => {
                self.next();
                self.unary_expr()
            }
            Tok::Minus => {
                self.next();
                Ok(Expr::Negate(Box::new(self.unary_expr()?)))
            }
            Tok::Not => {
                self.next();
                let e = self.unary_expr()?;
                Ok(Expr::Not(Box::new(self.as_boolean(e)?)))
            }
            _ => self.primary_expr(),
        }
    }

    fn primary_expr(&mut self) -> Result<Expr, ParseError> {
        let value = match self.peek().clone() {
            Tok::LParen => {
                self.next();
                let e = self.or_expr()?;
                self.expect(&Tok::RParen)?;
                return Ok(e);
            }
            Tok::Id(name) => {
                self.next();
                return Ok(Expr::Property(name));
            }
            Tok::Str(s) => Value::Str(s),
            Tok::True => Value::Bool(true),
            Tok::False => Value::Bool(false),
            Tok::Null => Value::Null,
            // ConstantExpression.createFromDecimal: a Long, narrowed to Integer if it fits.
            Tok::Decimal(digits) => match digits.parse::<i64>() {
                Ok(l) => i32::try_from(l).map_or(Value::Long(l), Value::Int),
                Err(_) => return Err(self.error(format!("For input string: \"{digits}\""))),
            },
            // ConstantExpression.createFloat: finite and not below Double.MIN_VALUE.
            Tok::Float(text) => match text.parse::<f64>() {
                Ok(d) if d.is_finite() && d >= f64::from_bits(1) => Value::Double(d),
                _ => return Err(self.error(format!("illegal float literal {text}"))),
            },
            t => return Err(self.error(format!("unexpected {t:?}"))),
        };
        self.next();
        Ok(Expr::Const(value))
    }

    fn string_literal(&mut self) -> Result<String, ParseError> {
        match self.peek().clone() {
            Tok::Str(s) => {
                self.next();
                Ok(s)
            }
            t => Err(self.error(format!("expected a string literal, found {t:?}"))),
        }
    }

    /// `ComparisonExpression.createEqual`: no NULL literal, and not a boolean constant
    /// compared with another kind of constant.
    fn create_equal(&self, left: Expr, right: Expr) -> Result<Expr, ParseError> {
        for e in [&left, &right] {
            if matches!(e, Expr::Const(Value::Null)) {
                return Err(self.error("'NULL' cannot be compared.".into()));
            }
        }
        if let (Expr::Const(_), Expr::Const(_)) = (&left, &right) {
            if left.is_boolean() && !right.is_boolean() {
                return Err(self.error(format!("{left:?} cannot be compared with {right:?}")));
            }
        }
        Ok(Expr::Equal(Box::new(left), Box::new(right)))
    }

    /// `createGreaterThan` & co: `checkLessThanOperand` on both sides.
    fn create_compare(&self, order: Order, left: Expr, right: Expr) -> Result<Expr, ParseError> {
        for e in [&left, &right] {
            let ok = match e {
                Expr::Const(v) => matches!(v, Value::Int(_) | Value::Long(_) | Value::Double(_)),
                e => !e.is_boolean(),
            };
            if !ok {
                return Err(self.error(format!("Value '{e:?}' cannot be compared.")));
            }
        }
        Ok(Expr::Compare(order, Box::new(left), Box::new(right)))
    }

    /// `createBetween`: constant bounds must be non-null and ordered.
    fn create_between(&self, value: Expr, low: Expr, high: Expr) -> Result<Expr, ParseError> {
        if let (Expr::Const(lv), Expr::Const(hv)) = (&low, &high) {
            if *lv == Value::Null || *hv == Value::Null {
                return Err(self.error("Illegal values of between, values can not be null!".into()));
            }
            match java_compare(hv, lv) {
                Ok(Ordering::Less) => {
                    return Err(self.error(format!(
                        "Illegal values of between, left value({lv:?}) must less than or equal to right value({hv:?})"
                    )))
                }
                Ok(_) => {}
                Err(Fault(e)) => return Err(self.error(e)),
            }
        }
        Ok(Expr::And(
            Box::new(self.create_compare(Order::Ge, value.clone(), low)?),
            Box::new(self.create_compare(Order::Le, value, high)?),
        ))
    }
}

// ---------------------------------------------------------------------------------------
// Evaluation

/// A `(Boolean)` cast of a boolean expression's value.
fn as_bool(v: Value) -> Result<Option<bool>, Fault> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(b)),
        other => Err(Fault(format!(
            "ClassCastException: {other:?} is not a Boolean"
        ))),
    }
}

fn eval(e: &Expr, props: &dyn Fn(&str) -> Option<String>) -> Result<Value, Fault> {
    Ok(match e {
        Expr::Const(v) => v.clone(),
        Expr::Property(name) => props(name).map_or(Value::Null, Value::Str),
        Expr::Negate(x) => match eval(x, props)? {
            Value::Int(i) => Value::Int(i.wrapping_neg()),
            Value::Long(l) => Value::Long(l.wrapping_neg()),
            Value::Double(d) => Value::Double(-d),
            _ => Value::Null,
        },
        Expr::BoolCast(x) => match eval(x, props)? {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            _ => Value::Bool(false),
        },
        Expr::Not(x) => match as_bool(eval(x, props)?)? {
            None => Value::Null,
            Some(b) => Value::Bool(!b),
        },
        Expr::And(l, r) => {
            let lv = as_bool(eval(l, props)?)?;
            if lv == Some(false) {
                return Ok(Value::Bool(false));
            }
            let rv = as_bool(eval(r, props)?)?;
            match (lv, rv) {
                (_, Some(false)) => Value::Bool(false),
                (None, _) | (_, None) => Value::Null,
                _ => Value::Bool(true),
            }
        }
        Expr::Or(l, r) => {
            let lv = as_bool(eval(l, props)?)?;
            if lv == Some(true) {
                return Ok(Value::Bool(true));
            }
            let rv = as_bool(eval(r, props)?)?;
            match (lv, rv) {
                (_, Some(true)) => Value::Bool(true),
                (None, _) | (_, None) => Value::Null,
                _ => Value::Bool(false),
            }
        }
        Expr::Equal(l, r) => {
            let lv = eval(l, props)?;
            let rv = eval(r, props)?;
            match (&lv, &rv) {
                (Value::Null, Value::Null) => Value::Bool(true),
                // Java: null on the left gives NULL, null on the right FALSE.
                (Value::Null, _) => Value::Null,
                (_, Value::Null) => Value::Bool(false),
                _ => Value::Bool(java_compare(&lv, &rv)? == Ordering::Equal),
            }
        }
        Expr::Compare(order, l, r) => {
            let lv = eval(l, props)?;
            if lv == Value::Null {
                return Ok(Value::Null);
            }
            let rv = eval(r, props)?;
            if rv == Value::Null {
                return Ok(Value::Null);
            }
            let ord = match (&lv, &rv) {
                // Two strings are compared as doubles, or not at all.
                (Value::Str(a), Value::Str(b)) => match (java_double(a), java_double(b)) {
                    (Some(a), Some(b)) => a.total_cmp(&b),
                    _ => {
                        return Err(Fault(format!(
                            "It's illegal to compare string by '>=', '>', '<', '<='. lv={a}, rv={b}"
                        )))
                    }
                },
                _ => java_compare(&lv, &rv)?,
            };
            Value::Bool(order.holds(ord))
        }
        Expr::In {
            property,
            list,
            negated,
        } => match props(property) {
            None => Value::Null,
            Some(v) => Value::Bool(list.contains(&v) != *negated),
        },
        Expr::Text {
            op,
            operand,
            search,
            negated,
        } => {
            if search.is_empty() {
                return Ok(Value::Bool(false));
            }
            match eval(operand, props)? {
                Value::Str(s) => {
                    let found = match op {
                        TextOp::Contains => s.contains(search.as_str()),
                        TextOp::StartsWith => s.starts_with(search.as_str()),
                        TextOp::EndsWith => s.ends_with(search.as_str()),
                    };
                    Value::Bool(found != *negated)
                }
                // Missing or not a string: FALSE, negated or not.
                _ => Value::Bool(false),
            }
        }
    })
}

/// `ComparisonExpression.__compare` with string conversion on (both non-null): values
/// of different types are converted up (`Integer` → `Long` → `Double`; a string to the
/// other side's type, where a bad number throws); incomparable types compare as "less".
fn java_compare(lv: &Value, rv: &Value) -> Result<Ordering, Fault> {
    use Value::*;
    let bad = |s: &str| Fault(format!("NumberFormatException: For input string: \"{s}\""));
    Ok(match (lv, rv) {
        (Bool(a), Bool(b)) => a.cmp(b),
        (Int(a), Int(b)) => a.cmp(b),
        (Long(a), Long(b)) => a.cmp(b),
        (Double(a), Double(b)) => a.total_cmp(b),
        // String.compareTo: UTF-16 code units.
        (Str(a), Str(b)) => a.encode_utf16().cmp(b.encode_utf16()),
        (Int(a), Long(b)) => i64::from(*a).cmp(b),
        (Long(a), Int(b)) => a.cmp(&i64::from(*b)),
        (Int(a), Double(b)) => f64::from(*a).total_cmp(b),
        (Double(a), Int(b)) => a.total_cmp(&f64::from(*b)),
        (Long(a), Double(b)) => (*a as f64).total_cmp(b),
        (Double(a), Long(b)) => a.total_cmp(&(*b as f64)),
        (Int(a), Str(s)) => a.cmp(&s.parse::<i32>().map_err(|_| bad(s))?),
        (Long(a), Str(s)) => a.cmp(&s.parse::<i64>().map_err(|_| bad(s))?),
        (Double(a), Str(s)) => a.total_cmp(&java_double(s).ok_or_else(|| bad(s))?),
        (Str(s), Int(b)) => s.parse::<i32>().map_err(|_| bad(s))?.cmp(b),
        (Str(s), Long(b)) => s.parse::<i64>().map_err(|_| bad(s))?.cmp(b),
        (Str(s), Double(b)) => java_double(s).ok_or_else(|| bad(s))?.total_cmp(b),
        // Boolean.valueOf(String): "true" in any case, anything else false.
        (Str(s), Bool(b)) => s.eq_ignore_ascii_case("true").cmp(b),
        // Java casts the Boolean itself to String here.
        (Bool(_), Str(_)) => {
            return Err(Fault(
                "ClassCastException: Boolean cannot be cast to String".into(),
            ))
        }
        _ => Ordering::Less,
    })
}

/// `Double.valueOf(String)` for decimal text: surrounding whitespace trimmed, an
/// optional sign, `NaN`, `Infinity`, digits with an optional point and exponent, an
/// optional `f`/`d` suffix. (Hexadecimal floats are not supported.)
fn java_double(s: &str) -> Option<f64> {
    let t = s.trim_matches(|c: char| c <= ' ');
    let (sign, body) = match t.as_bytes().first() {
        Some(b'+') => (1.0, &t[1..]),
        Some(b'-') => (-1.0, &t[1..]),
        _ => (1.0, t),
    };
    match body {
        "NaN" => return Some(f64::NAN),
        "Infinity" => return Some(sign * f64::INFINITY),
        _ => {}
    }
    let body = body
        .strip_suffix(['f', 'F', 'd', 'D'])
        .filter(|b| !b.is_empty())
        .unwrap_or(body);
    let plain = body.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    if !plain {
        return None;
    }
    body.parse::<f64>().ok().map(|d| sign * d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    /// Evaluate `sql` (which must compile) against `pairs`.
    fn eval_sql(sql: &str, pairs: &[(&str, &str)]) -> Result<Option<bool>, Fault> {
        let s = Selector::parse(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        s.evaluate(&props(pairs))
    }

    fn is(sql: &str, pairs: &[(&str, &str)]) -> Option<bool> {
        eval_sql(sql, pairs).unwrap_or_else(|f| panic!("{sql}: {f:?}"))
    }

    fn matches(sql: &str, pairs: &[(&str, &str)]) -> bool {
        Selector::parse(sql).unwrap().matches(&props(pairs))
    }

    fn rejected(sql: &str) -> bool {
        Selector::parse(sql).is_err()
    }

    #[test]
    fn the_scenario_expression() {
        let sql = "a > 3 AND color = 'blue'";
        assert!(matches(sql, &[("a", "4"), ("color", "blue")]));
        assert!(!matches(sql, &[("a", "3"), ("color", "blue")]));
        assert!(!matches(sql, &[("a", "9"), ("color", "red")]));
        assert!(!matches(sql, &[("color", "blue")]), "a missing");
        assert!(
            !matches(sql, &[("a", "x"), ("color", "blue")]),
            "a not a number"
        );
        assert!(!matches(sql, &[]));
    }

    #[test]
    fn literals() {
        assert_eq!(is("TRUE", &[]), Some(true));
        assert_eq!(is("false", &[]), Some(false));
        assert_eq!(is("s = 'it''s'", &[("s", "it's")]), Some(true));
        assert_eq!(is("s = ''", &[("s", "")]), Some(true));
        assert_eq!(is("n = 42", &[("n", "42")]), Some(true));
        assert_eq!(is("n = 42L", &[("n", "42")]), Some(true));
        assert_eq!(is("n = 4000000000", &[("n", "4000000000")]), Some(true));
        assert_eq!(is("n = 1.5", &[("n", "1.5")]), Some(true));
        assert_eq!(is("n = .5", &[("n", "0.5")]), Some(true));
        assert_eq!(is("n = 5.", &[("n", "5")]), Some(true));
        assert_eq!(is("n = 1e3", &[("n", "1000")]), Some(true));
        assert_eq!(is("n = 1.5E+1", &[("n", "15")]), Some(true));
        assert_eq!(is("n = -3", &[("n", "-3")]), Some(true));
        assert_eq!(is("n = +3", &[("n", "3")]), Some(true));
        assert_eq!(is("n = - -3", &[("n", "3")]), Some(true));
        // Keywords in any case; identifiers as written.
        assert_eq!(
            is("Color = 'x' oR color iS nOt NuLl", &[("color", "y")]),
            Some(true)
        );
        assert_eq!(is("$x_1 = 'v'", &[("$x_1", "v")]), Some(true));
        // Comments.
        assert_eq!(is("/* c */ a = '1' -- rest\n", &[("a", "1")]), Some(true));
    }

    #[test]
    fn syntax_errors() {
        for sql in [
            "",
            "a >",
            "a > 3 AND",
            "(a > 3",
            "a > 3)",
            "a != 3",
            "a == 3",
            "a = 'open",
            "a = 3 b",
            "a ! 3",
            "a.b = 1",
            "a = 99999999999999999999",
            "a > 0.0",
            "a > 1e400",
            "a = NULL",
            "NULL = a",
            "TRUE = 1",
            "a > 'x'",
            "a > TRUE",
            "a > (b = 1)",
            "NOT a > 3",
            "NOT a IN ('x')",
            "'x' IN ('x')",
            "a IN ()",
            "a IN (1, 2)",
            "a BETWEEN 5 AND 1",
            "a BETWEEN NULL AND 1",
            "a BETWEEN 'x' AND 1",
            "a IS 3",
            "3",
            "'x'",
            "a + 1 > 2",
            "-- no newline",
            "/* open",
            "a = 1 AND 2",
            "NOT 3",
            "in = 1",
        ] {
            assert!(rejected(sql), "{sql:?} should not compile");
        }
    }

    #[test]
    fn precedence_not_over_and_over_or() {
        assert_eq!(is("TRUE OR FALSE AND FALSE", &[]), Some(true));
        assert_eq!(is("(TRUE OR FALSE) AND FALSE", &[]), Some(false));
        assert_eq!(is("FALSE AND FALSE OR TRUE", &[]), Some(true));
        assert_eq!(is("NOT FALSE AND FALSE", &[]), Some(false));
        assert_eq!(is("NOT (FALSE AND FALSE)", &[]), Some(true));
        assert_eq!(is("NOT TRUE OR TRUE", &[]), Some(true));
        assert_eq!(is("NOT NOT TRUE", &[]), Some(true));
        let p = [("a", "5"), ("b", "x")];
        assert_eq!(is("a = 1 OR a = 5 AND b = 'x'", &p), Some(true));
        assert_eq!(is("a = 5 OR a = 1 AND b = 'y'", &p), Some(true));
        assert_eq!(is("(a = 5 OR a = 1) AND b = 'y'", &p), Some(false));
        assert_eq!(is("NOT (a > 3) OR b = 'x'", &p), Some(true));
        assert_eq!(is("NOT (a > 3) AND b = 'x'", &p), Some(false));
        // NOT applies to the operand before the comparison, as in Java: `(NOT a) = 5`
        // compares a Boolean with an Integer, which is never equal.
        assert_eq!(is("NOT a = 5", &p), Some(false));
        assert_eq!(is("NOT a = 5", &[]), None);
    }

    #[test]
    fn null_semantics() {
        let none: [(&str, &str); 0] = [];
        assert_eq!(is("a > 3", &none), None);
        assert_eq!(is("a = 'x'", &none), None);
        assert_eq!(is("NOT (a = 'x')", &none), None);
        assert_eq!(is("a <> 'x'", &none), None);
        assert!(!matches("a <> 'x'", &none));
        assert!(!matches("NOT (a = 'x')", &none));
        // AND / OR with NULL.
        assert_eq!(is("a = 'x' AND TRUE", &none), None);
        assert_eq!(is("a = 'x' AND FALSE", &none), Some(false));
        assert_eq!(is("FALSE AND a = 'x'", &none), Some(false));
        assert_eq!(is("a = 'x' OR TRUE", &none), Some(true));
        assert_eq!(is("TRUE OR a = 'x'", &none), Some(true));
        assert_eq!(is("a = 'x' OR FALSE", &none), None);
        assert_eq!(is("a = 'x' OR b = 'y'", &none), None);
        // Java's equality is lopsided: null on the left is NULL, on the right FALSE;
        // two nulls are equal.
        assert_eq!(is("'x' = a", &none), Some(false));
        assert_eq!(is("'x' <> a", &none), Some(true));
        assert_eq!(is("a = b", &none), Some(true));
        assert_eq!(is("a = b", &[("b", "1")]), None);
        // A bare property is a boolean cast: a string is never TRUE.
        assert_eq!(is("flag", &none), None);
        assert_eq!(is("flag", &[("flag", "true")]), Some(false));
        assert_eq!(is("NOT flag", &[("flag", "true")]), Some(true));
        // A negated string is NULL.
        assert_eq!(is("-a = 3", &[("a", "-3")]), None);
    }

    #[test]
    fn is_null_between_in() {
        let p = [("a", "5"), ("s", "blue")];
        assert_eq!(is("a IS NULL", &p), Some(false));
        assert_eq!(is("a IS NOT NULL", &p), Some(true));
        assert_eq!(is("zz IS NULL", &p), Some(true));
        assert_eq!(is("zz IS NOT NULL", &p), Some(false));
        assert_eq!(is("a IS NOT NULL AND a > 4", &p), Some(true));

        assert_eq!(is("a BETWEEN 5 AND 7", &p), Some(true));
        assert_eq!(is("a BETWEEN 1 AND 5", &p), Some(true));
        assert_eq!(is("a BETWEEN 6 AND 7", &p), Some(false));
        assert_eq!(is("a BETWEEN 4.5 AND 5.5", &[("a", "5.2")]), Some(true));
        assert_eq!(is("a BETWEEN -1 AND 1", &[("a", "0")]), Some(true));
        assert_eq!(is("a NOT BETWEEN 6 AND 7", &p), Some(true));
        assert_eq!(is("a NOT BETWEEN 1 AND 9", &p), Some(false));
        assert_eq!(is("zz BETWEEN 1 AND 9", &p), None);
        assert_eq!(is("zz NOT BETWEEN 1 AND 9", &p), None);
        // BETWEEN's AND belongs to BETWEEN; the next one is logical.
        assert_eq!(is("a BETWEEN 1 AND 9 AND s = 'blue'", &p), Some(true));
        assert_eq!(is("a BETWEEN 1 AND 9 AND s = 'red'", &p), Some(false));

        assert_eq!(is("s IN ('red', 'blue')", &p), Some(true));
        assert_eq!(is("s IN ('red')", &p), Some(false));
        assert_eq!(is("s NOT IN ('red', 'green')", &p), Some(true));
        assert_eq!(is("s NOT IN ('blue')", &p), Some(false));
        assert_eq!(is("zz IN ('blue')", &p), None);
        assert_eq!(is("zz NOT IN ('blue')", &p), None);
        assert_eq!(is("a IN ('5')", &p), Some(true), "IN compares strings");
        assert_eq!(is("a IN ('5.0')", &p), Some(false));
    }

    #[test]
    fn numbers_and_strings() {
        // A property compared with an integer literal is parsed as an Integer …
        assert_eq!(is("a > 3", &[("a", "10")]), Some(true));
        assert_eq!(is("a > 3", &[("a", "+4")]), Some(true));
        assert_eq!(is("a < 3", &[("a", "-10")]), Some(true));
        assert_eq!(is("a = 3", &[("a", "3")]), Some(true));
        assert_eq!(is("a >= 3", &[("a", "3")]), Some(true));
        assert_eq!(is("a <= 2", &[("a", "3")]), Some(false));
        assert_eq!(is("3 < a", &[("a", "10")]), Some(true));
        // … which a decimal or out-of-range value is not: Java throws, nothing matches,
        // not even through an OR that is otherwise true.
        assert!(eval_sql("a > 3", &[("a", "3.5")]).is_err());
        assert!(eval_sql("a > 3", &[("a", "4000000000")]).is_err());
        assert!(eval_sql("a > 3", &[("a", " 4")]).is_err());
        assert!(eval_sql("a = 3", &[("a", "x")]).is_err());
        assert!(eval_sql("a > 3 OR TRUE", &[("a", "x")]).is_err());
        assert!(!matches("a > 3 OR TRUE", &[("a", "x")]));
        assert_eq!(
            is("TRUE OR a > 3", &[("a", "x")]),
            Some(true),
            "short-circuit"
        );
        // A Long literal parses the property as a Long; a float literal as a Double.
        assert_eq!(is("a > 3000000000", &[("a", "4000000000")]), Some(true));
        assert_eq!(is("a > 3.0", &[("a", "3.5")]), Some(true));
        assert_eq!(is("a > 3.0", &[("a", "4")]), Some(true));
        assert_eq!(is("a = 3.0", &[("a", "3")]), Some(true));
        assert_eq!(is("a = 3.0", &[("a", " 3.0d ")]), Some(true));
        assert_eq!(is("a > 1.5", &[("a", "1e1")]), Some(true));
        assert!(eval_sql("a > 1.5", &[("a", "1,5")]).is_err());
        assert!(eval_sql("a > 1.5", &[("a", "inf")]).is_err());
        // Two properties under > are both parsed as doubles.
        assert_eq!(is("a > b", &[("a", "10"), ("b", "9")]), Some(true));
        assert!(eval_sql("a > b", &[("a", "x"), ("b", "y")]).is_err());
        // Under =, two strings compare as strings; a string and a number as numbers.
        assert_eq!(is("a = b", &[("a", "10"), ("b", "10.0")]), Some(false));
        assert_eq!(is("a = '10'", &[("a", "10")]), Some(true));
        assert_eq!(is("a = '10.0'", &[("a", "10")]), Some(false));
        assert_eq!(is("a <> 'x'", &[("a", "y")]), Some(true));
        assert_eq!(is("a = 10", &[("a", "010")]), Some(true));
        // Literal against literal.
        assert_eq!(is("1 = 1.0", &[]), Some(true));
        assert_eq!(is("2 > 1", &[]), Some(true));
        assert_eq!(is("3000000000 > 2", &[]), Some(true));
        assert_eq!(is("'b' = 'b'", &[]), Some(true));
        // Booleans: a string equals TRUE when it reads "true" (any case).
        assert_eq!(is("a = TRUE", &[("a", "TRUE")]), Some(true));
        assert_eq!(is("a = FALSE", &[("a", "yes")]), Some(true));
        assert_eq!(is("1 = TRUE", &[]), Some(false));
    }

    #[test]
    fn contains_startswith_endswith() {
        let p = [("s", "hello world")];
        assert_eq!(is("s CONTAINS 'lo w'", &p), Some(true));
        assert_eq!(is("s NOT CONTAINS 'lo w'", &p), Some(false));
        assert_eq!(is("s STARTSWITH 'hell'", &p), Some(true));
        assert_eq!(is("s ENDSWITH 'world'", &p), Some(true));
        assert_eq!(is("s NOT ENDSWITH 'hello'", &p), Some(true));
        assert_eq!(is("s CONTAINS ''", &p), Some(false));
        assert_eq!(is("zz CONTAINS 'x'", &p), Some(false));
        assert_eq!(is("zz NOT CONTAINS 'x'", &p), Some(false));
    }

    #[test]
    fn system_properties_are_visible() {
        let p = [("TAGS", "TagA"), ("KEYS", "k1"), ("a", "7")];
        assert!(matches("TAGS = 'TagA' AND a BETWEEN 5 AND 9", &p));
        assert!(matches("TAGS IN ('TagA', 'TagB')", &p));
        assert!(!matches("TAGS = 'TagB'", &p));
    }

    #[test]
    fn java_double_accepts_what_double_value_of_does() {
        assert_eq!(java_double("1"), Some(1.0));
        assert_eq!(java_double(" -1.5e2 "), Some(-150.0));
        assert_eq!(java_double(".5"), Some(0.5));
        assert_eq!(java_double("5."), Some(5.0));
        assert_eq!(java_double("2f"), Some(2.0));
        assert_eq!(java_double("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(java_double("NaN").is_some_and(f64::is_nan));
        for bad in ["", "x", "inf", "nan", "1,5", "e5", ".", "1e", "d", "0x10"] {
            assert_eq!(java_double(bad), None, "{bad:?}");
        }
    }
}

/// The simulated broker applying selectors to PULL_MESSAGE, driven with raw frames.
#[cfg(test)]
mod pulls {
    use rocketmq_proto::body::{
        ConsumeFromWhere, ConsumeType, ConsumerData, EncodeBody, ExpressionType, HeartbeatData,
        MessageModel, SubscriptionData,
    };
    use rocketmq_proto::codes::{RequestCode, ResponseCode, SerializeType};
    use rocketmq_proto::collections::Growable;
    use rocketmq_proto::command::{Command, CommandEncoder, Header};
    use rocketmq_proto::ext::{EmptyFields, EncodeFields};
    use rocketmq_proto::frame::{Decoded, FrameDecoder};
    use rocketmq_proto::header::{PullMessageRequest, PullSysFlag};
    use rocketmq_proto::message::RecordIter;

    use crate::sim::{BrokerSpec, ConnId, Sim, SimConfig, TopicSpec};

    const NS: &str = "10.0.0.1:9876";
    const A: &str = "10.0.0.2:10911";
    const SQL: &str = "a > 3 AND color = 'blue'";

    /// One queue of topic T holding a=0..9, color blue (even) / red (odd).
    fn setup() -> (Sim, ConnId) {
        let mut sim = Sim::new(
            SimConfig::new(NS).broker(BrokerSpec::new("broker-a", A).topic(TopicSpec::new("T", 1))),
        );
        for i in 0..10 {
            let a = i.to_string();
            let color = if i % 2 == 0 { "blue" } else { "red" };
            let body = format!("m{i}");
            sim.inject_message(
                0,
                "broker-a",
                "T",
                0,
                body.as_bytes(),
                &[("a", &a), ("color", color)],
            )
            .unwrap();
        }
        let conn = sim.connect(0, A).unwrap();
        (sim, conn)
    }

    struct Answer {
        code: i32,
        remark: String,
        next_begin_offset: Option<i64>,
        bodies: Vec<String>,
    }

    fn call<F: EncodeFields + ?Sized>(
        sim: &mut Sim,
        conn: ConnId,
        code: RequestCode,
        fields: &F,
        body: &[u8],
    ) -> Answer {
        let mut frame = Vec::new();
        CommandEncoder::new(SerializeType::Json)
            .encode_to(&mut frame, &Header::request(code, 7), fields, body)
            .unwrap();
        sim.send(0, conn, &frame).unwrap();
        // A heartbeat's NOTIFY_CONSUMER_IDS_CHANGED comes ahead of its response.
        let replies: Vec<Vec<u8>> = std::iter::from_fn(|| sim.poll_recv(conn)).collect();
        let cmd = replies
            .iter()
            .map(|bytes| {
                let Decoded::Frame { frame, .. } = FrameDecoder::new().decode(bytes).unwrap()
                else {
                    panic!("whole frames")
                };
                Command::decode(frame).unwrap()
            })
            .find(|cmd| cmd.header.is_response())
            .expect("answered at once");
        let next_begin_offset = cmd
            .fields()
            .iter()
            .find(|(k, _)| k.to_string_lossless() == "nextBeginOffset")
            .map(|(_, v)| v.to_string_lossless().parse().unwrap());
        Answer {
            code: cmd.header.code,
            remark: cmd
                .header
                .remark
                .map(|r| r.to_string_lossless())
                .unwrap_or_default(),
            next_begin_offset,
            bodies: RecordIter::new(cmd.body)
                .map(|r| String::from_utf8(r.unwrap().body.to_vec()).unwrap())
                .collect(),
        }
    }

    fn pull(sim: &mut Sim, conn: ConnId, offset: i64, sub: Option<(&str, &str)>) -> Answer {
        let flags = if sub.is_some() {
            PullSysFlag::SUBSCRIPTION
        } else {
            PullSysFlag(0)
        };
        let h = PullMessageRequest {
            consumer_group: "G".into(),
            topic: "T".into(),
            queue_id: 0,
            queue_offset: offset,
            max_msg_nums: 32,
            sys_flag: flags,
            commit_offset: 0,
            suspend_timeout_millis: 15_000,
            subscription: sub.map(|(_, e)| e.into()),
            sub_version: 1,
            expression_type: sub.map(|(t, _)| t.into()),
            max_msg_bytes: None,
            request_source: None,
            proxy_forward_client_id: None,
            broker_name: Some("broker-a".into()),
        };
        call(sim, conn, RequestCode::PULL_MESSAGE, &h, b"")
    }

    fn heartbeat_sql92(sim: &mut Sim, conn: ConnId, sql: &str) -> Answer {
        let mut hb = HeartbeatData::<Growable>::new("client-1".into());
        hb.consumer_data_set.push(ConsumerData {
            group_name: "G".into(),
            consume_type: ConsumeType::Passively,
            message_model: MessageModel::Clustering,
            consume_from_where: ConsumeFromWhere::FirstOffset,
            subscription_data_set: vec![SubscriptionData {
                class_filter_mode: false,
                topic: "T".into(),
                sub_string: sql.into(),
                tags_set: vec![],
                code_set: vec![],
                sub_version: 1,
                expression_type: ExpressionType::Sql92,
            }],
            unit_mode: false,
        });
        call(
            sim,
            conn,
            RequestCode::HEART_BEAT,
            &EmptyFields,
            &hb.to_vec(),
        )
    }

    #[test]
    fn a_pull_with_a_selector_gets_only_matching_messages_and_skips_the_rest() {
        let (mut sim, conn) = setup();
        let r = pull(&mut sim, conn, 0, Some(("SQL92", SQL)));
        assert_eq!(r.code, ResponseCode::SUCCESS.0);
        assert_eq!(r.bodies, ["m4", "m6", "m8"]);
        assert_eq!(r.next_begin_offset, Some(10));
        // Nothing matches in [9, 10): NO_MATCHED_MESSAGE, and the offset still moves on.
        let r = pull(&mut sim, conn, 9, Some(("SQL92", SQL)));
        assert_eq!(r.code, ResponseCode::PULL_RETRY_IMMEDIATELY.0);
        assert_eq!(r.remark, "NO_MATCHED_MESSAGE");
        assert_eq!(r.next_begin_offset, Some(10));
        assert!(r.bodies.is_empty());
        // A TAG pull of the same queue is not affected.
        let r = pull(&mut sim, conn, 0, Some(("TAG", "*")));
        assert_eq!(r.bodies.len(), 10);
    }

    #[test]
    fn an_expression_that_does_not_compile_fails_the_pull() {
        let (mut sim, conn) = setup();
        for (ty, sql) in [
            ("SQL92", "a >"),
            ("SQL92", "a != 3"),
            ("SQL92", ""),
            ("FOO", "a > 3"),
        ] {
            let r = pull(&mut sim, conn, 0, Some((ty, sql)));
            assert_eq!(
                r.code,
                ResponseCode::SUBSCRIPTION_PARSE_FAILED.0,
                "{ty} {sql:?}"
            );
            assert_eq!(r.code, 23);
            assert_eq!(r.remark, "parse the consumer's subscription failed");
        }
    }

    #[test]
    fn without_the_subscription_flag_the_heartbeats_selector_filters() {
        let (mut sim, conn) = setup();
        assert_eq!(
            heartbeat_sql92(&mut sim, conn, SQL).code,
            ResponseCode::SUCCESS.0
        );
        let r = pull(&mut sim, conn, 0, None);
        assert_eq!(r.code, ResponseCode::SUCCESS.0);
        assert_eq!(r.bodies, ["m4", "m6", "m8"]);
        assert_eq!(r.next_begin_offset, Some(10));
    }

    #[test]
    fn a_heartbeat_with_a_bad_selector_succeeds_but_leaves_no_filter_data() {
        // Java's ConsumerFilterManager logs the parse error and registers nothing; the
        // heartbeat itself is answered SUCCESS.
        let (mut sim, conn) = setup();
        assert_eq!(
            heartbeat_sql92(&mut sim, conn, "a >").code,
            ResponseCode::SUCCESS.0
        );
        let r = pull(&mut sim, conn, 0, None);
        assert_eq!(r.code, ResponseCode::FILTER_DATA_NOT_EXIST.0);
        assert!(r.bodies.is_empty());
    }
}
