//! The integrator's requirements on a password, PIN or passcode.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use secrecy::ExposeSecret;
use share_backup_core::{Error, Result};

use crate::normalize::{NormalizeError, NormalizedPassword};

/// The longest text zxcvbn scores (its cost grows quickly with length; a
/// longer text is scored on its first 100 characters, which only
/// underestimates its strength).
const MAX_SCORED_CHARS: usize = 100;

/// The hard ceiling for [`Policy::with_max_length`].
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// A class of characters, as the policy sees them (after normalization).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CharClass {
    /// A lower-case letter (any script with case: `a`, `é`, `ж`).
    Lower,
    /// An upper-case letter (`A`, `É`, `Ж`).
    Upper,
    /// An ASCII digit `0`–`9`.
    Digit,
    /// ASCII punctuation or symbol (`!`, `#`, `-`, `~`, ...).
    Symbol,
    /// A space (every space is U+0020 after normalization).
    Space,
    /// Anything else: letters without case (`中`), non-ASCII symbols and digits, emoji.
    Other,
}

impl CharClass {
    /// Every class, in order.
    pub const ALL: [CharClass; 6] =
        [CharClass::Lower, CharClass::Upper, CharClass::Digit, CharClass::Symbol, CharClass::Space, CharClass::Other];

    /// The class of `c` (a normalized character).
    pub fn of(c: char) -> CharClass {
        if c.is_ascii_digit() {
            CharClass::Digit
        } else if c == ' ' {
            CharClass::Space
        } else if c.is_ascii_punctuation() {
            CharClass::Symbol
        } else if c.is_lowercase() {
            CharClass::Lower
        } else if c.is_uppercase() {
            CharClass::Upper
        } else {
            CharClass::Other
        }
    }

    /// The name used in settings (`lower`, `upper`, `digit`, `symbol`, `space`, `other`).
    pub fn name(self) -> &'static str {
        match self {
            CharClass::Lower => "lower",
            CharClass::Upper => "upper",
            CharClass::Digit => "digit",
            CharClass::Symbol => "symbol",
            CharClass::Space => "space",
            CharClass::Other => "other",
        }
    }

    /// What a UI calls it.
    pub fn describe(self) -> &'static str {
        match self {
            CharClass::Lower => "lower-case letters",
            CharClass::Upper => "upper-case letters",
            CharClass::Digit => "digits",
            CharClass::Symbol => "symbols",
            CharClass::Space => "spaces",
            CharClass::Other => "other characters (such as emoji or letters without case)",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of [`CharClass`]es.
///
/// ```
/// use share_backup_password::{CharClass, CharClasses};
/// let s: CharClasses = "lower,digit".parse().unwrap();
/// assert!(s.contains(CharClass::Digit) && !s.contains(CharClass::Upper));
/// assert_eq!(s.to_string(), "lower,digit");
/// assert_eq!("all".parse::<CharClasses>().unwrap(), CharClasses::ALL);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CharClasses(u8);

impl CharClasses {
    /// No class.
    pub const NONE: CharClasses = CharClasses(0);
    /// Every class.
    pub const ALL: CharClasses = CharClasses(0b11_1111);
    /// Digits only.
    pub const DIGITS: CharClasses = CharClasses(1 << 2);
    /// Letters (both cases) and digits.
    pub const ALPHANUMERIC: CharClasses = CharClasses(0b111);

    /// This set plus `class`.
    pub fn with(self, class: CharClass) -> Self {
        CharClasses(self.0 | class.bit())
    }

    /// Whether `class` is in the set.
    pub fn contains(self, class: CharClass) -> bool {
        self.0 & class.bit() != 0
    }

    /// Whether every class of `other` is in this set.
    pub fn contains_all(self, other: CharClasses) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The classes in the set, in order.
    pub fn iter(self) -> impl Iterator<Item = CharClass> {
        CharClass::ALL.into_iter().filter(move |c| self.contains(*c))
    }
}

impl FromIterator<CharClass> for CharClasses {
    fn from_iter<I: IntoIterator<Item = CharClass>>(iter: I) -> Self {
        iter.into_iter().fold(CharClasses::NONE, CharClasses::with)
    }
}

impl fmt::Display for CharClasses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(CharClass::name).collect();
        f.write_str(if names.is_empty() { "none" } else { "" })?;
        f.write_str(&names.join(","))
    }
}

impl fmt::Debug for CharClasses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CharClasses({self})")
    }
}

impl std::str::FromStr for CharClasses {
    type Err = Error;
    /// A comma-separated list of class names, `all` or `none`.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "all" => return Ok(CharClasses::ALL),
            "none" | "" => return Ok(CharClasses::NONE),
            _ => {}
        }
        s.split(',')
            .map(|n| {
                let n = n.trim();
                CharClass::ALL.into_iter().find(|c| c.name() == n).ok_or_else(|| {
                    Error::invalid_input(format!(
                        "unknown character class {n:?}; use lower, upper, digit, symbol, space, other, all or none"
                    ))
                })
            })
            .collect()
    }
}

/// Common choices refused whatever their length: the built-in list (common
/// passwords and PINs, compared case-insensitively after normalization),
/// plus the integrator's own entries.
///
/// ```
/// use share_backup_password::Blocklist;
/// let b = Blocklist::default().with_entries(["acme-wallet"]);
/// assert!(b.contains("PassWord") && b.contains("123456") && b.contains("ACME-Wallet"));
/// assert!(!Blocklist::empty().contains("password"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Blocklist(Arc<BTreeSet<String>>);

/// The built-in entries: very common passwords and PINs (repeated and
/// sequential ones are caught by the pattern rules as well).
pub const BUILTIN_BLOCKLIST: &[&str] = &[
    // PINs
    "0000",
    "1111",
    "1212",
    "1234",
    "2000",
    "1004",
    "2222",
    "6969",
    "4321",
    "1122",
    "1313",
    "1010",
    "2001",
    "7777",
    "000000",
    "111111",
    "112233",
    "121212",
    "123123",
    "123321",
    "123456",
    "131313",
    "147258",
    "159753",
    "654321",
    "666666",
    "696969",
    "777777",
    "789456",
    "102030",
    "112358",
    "147852",
    "258963",
    "456789",
    "987654",
    "520520",
    "121314",
    "101010",
    "110110",
    "202020",
    "232323",
    "252525",
    "12345678",
    "87654321",
    "11111111",
    "00000000",
    "123456789",
    "1234567890",
    "0987654321",
    "1q2w3e",
    "12344321",
    // passwords
    "password",
    "password1",
    "password12",
    "password123",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "qwerty",
    "qwerty1",
    "qwerty12",
    "qwerty123",
    "qwertyuiop",
    "qwertz",
    "azerty",
    "asdfgh",
    "asdfghjk",
    "asdfghjkl",
    "zxcvbn",
    "zxcvbnm",
    "qazwsx",
    "1qaz2wsx",
    "zaq12wsx",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "q1w2e3r4",
    "123qwe",
    "qwe123",
    "abc123",
    "abcd1234",
    "aa123456",
    "a123456",
    "iloveyou",
    "admin",
    "admin123",
    "administrator",
    "root",
    "welcome",
    "welcome1",
    "letmein",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "soccer",
    "hockey",
    "sunshine",
    "princess",
    "master",
    "shadow",
    "superman",
    "batman",
    "michael",
    "jordan23",
    "trustno1",
    "starwars",
    "whatever",
    "freedom",
    "hello123",
    "hello",
    "charlie",
    "donald",
    "changeme",
    "secret",
    "default",
    "computer",
    "internet",
    "cheese",
    "killer",
    "harley",
    "hunter2",
    "ranger",
    "buster",
    "access",
    "flower",
    "mustang",
    "test123",
    "guest",
    "login",
    "loveme",
    "lovely",
    "ninja",
    "azerty123",
    "mypassword",
    "letmein1",
    "bitcoin",
    "ethereum",
    "crypto",
    "wallet",
    "mywallet",
    "satoshi",
    "blockchain",
];

impl Blocklist {
    /// No entries at all (pattern rules still apply unless turned off).
    pub fn empty() -> Self {
        Blocklist(Arc::new(BTreeSet::new()))
    }

    /// This list plus `entries` (normalized and lower-cased; entries that do
    /// not normalize are skipped).
    pub fn with_entries<I, S>(self, entries: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = (*self.0).clone();
        set.extend(entries.into_iter().filter_map(|e| fold(e.as_ref())));
        Blocklist(Arc::new(set))
    }

    /// Whether `text` (normalized, case-insensitively) is on the list.
    pub fn contains(&self, text: &str) -> bool {
        // The folded copy of a password is wiped when dropped.
        fold(text).map(zeroize::Zeroizing::new).is_some_and(|t| self.0.contains(t.as_str()))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn fold(s: &str) -> Option<String> {
    NormalizedPassword::new(s).ok().map(|n| n.expose_secret().to_lowercase())
}

impl Default for Blocklist {
    fn default() -> Self {
        Blocklist::empty().with_entries(BUILTIN_BLOCKLIST)
    }
}

impl fmt::Debug for Blocklist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blocklist({} entries)", self.0.len())
    }
}

/// One broken requirement. Its `Display` is a sentence a UI can show as the
/// user types; [`Violation::code`] is a stable name to localize by. Neither
/// ever contains the password or any character of it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// Nothing was typed.
    Empty,
    /// A character no password may contain (a control character, a line break).
    InvalidCharacter,
    /// Fewer characters than required.
    TooShort {
        /// The minimum, in characters.
        min: usize,
        /// The length typed, in characters.
        actual: usize,
    },
    /// More characters than allowed.
    TooLong {
        /// The maximum, in characters.
        max: usize,
        /// The length typed, in characters.
        actual: usize,
    },
    /// A character of a class the policy does not allow (reported once per class).
    DisallowedClass {
        /// The class found.
        class: CharClass,
        /// The classes allowed.
        allowed: CharClasses,
    },
    /// No character of a class the policy requires.
    MissingClass {
        /// The class missing.
        class: CharClass,
    },
    /// On the blocklist of common choices.
    Common,
    /// A short run repeated (`000000`, `121212`, `abcabc`).
    Repeated,
    /// A sequence (`123456`, `654321`, `2468`, `abcdef`).
    Sequential,
    /// Contains the user's own id (or a long part of it).
    ContainsUserId,
    /// Too easy to guess by zxcvbn's estimate.
    TooGuessable {
        /// zxcvbn's score, 0 to 4.
        score: u8,
        /// The minimum score.
        min: u8,
        /// zxcvbn's warning, where it has one (a generic sentence, never the text).
        warning: Option<String>,
    },
}

impl Violation {
    /// A stable snake-case name (`too_short`, `common`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Violation::Empty => "empty",
            Violation::InvalidCharacter => "invalid_character",
            Violation::TooShort { .. } => "too_short",
            Violation::TooLong { .. } => "too_long",
            Violation::DisallowedClass { .. } => "disallowed_class",
            Violation::MissingClass { .. } => "missing_class",
            Violation::Common => "common",
            Violation::Repeated => "repeated",
            Violation::Sequential => "sequential",
            Violation::ContainsUserId => "contains_user_id",
            Violation::TooGuessable { .. } => "too_guessable",
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Empty => f.write_str("Enter a password."),
            Violation::InvalidCharacter => {
                f.write_str("Remove control characters such as tabs or line breaks; they cannot be part of a password.")
            }
            Violation::TooShort { min, actual } => write!(f, "Use at least {min} characters (now {actual})."),
            Violation::TooLong { max, actual } => write!(f, "Use at most {max} characters (now {actual})."),
            Violation::DisallowedClass { class, allowed } => {
                let allowed: Vec<&str> = allowed.iter().map(CharClass::describe).collect();
                write!(f, "Use only {}; {} are not allowed.", allowed.join(", "), class.describe())
            }
            Violation::MissingClass { class } => write!(f, "Include at least one of the {}.", class.describe()),
            Violation::Common => f.write_str("This is one of the most common choices; pick something less obvious."),
            Violation::Repeated => f.write_str("Avoid repeating the same few characters (like 000000 or 121212)."),
            Violation::Sequential => f.write_str("Avoid sequences (like 123456, 654321 or abcdef)."),
            Violation::ContainsUserId => f.write_str("Do not use your user name or email address in it."),
            Violation::TooGuessable { score, min, warning } => {
                write!(f, "This is too easy to guess (strength {score} of 4; at least {min} is needed).")?;
                if let Some(w) = warning {
                    write!(f, " {w}")?;
                }
                Ok(())
            }
        }
    }
}

/// The violations that made the provider refuse a password: the `source`
/// of its [`ErrorKind::PolicyViolation`](share_backup_core::ErrorKind::PolicyViolation)
/// error, reachable by downcasting.
///
/// ```
/// use share_backup_password::{Policy, PolicyViolations, Violation};
/// let err = Policy::pin().enforce("12a", &[]).unwrap_err();
/// let v = err.source_ref().unwrap().downcast_ref::<PolicyViolations>().unwrap();
/// assert!(v.violations().contains(&Violation::TooShort { min: 6, actual: 3 }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.0.iter().map(ToString::to_string).collect::<Vec<_>>().join(" "))]
pub struct PolicyViolations(Vec<Violation>);

impl PolicyViolations {
    /// Every violation, in the order [`Policy::check`] reports them.
    pub fn violations(&self) -> &[Violation] {
        &self.0
    }
}

/// Which preset a policy started from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Preset {
    /// [`Policy::password`].
    Password,
    /// [`Policy::pin`].
    Pin,
    /// [`Policy::passcode`].
    Passcode,
    /// [`Policy::custom`].
    Custom,
}

impl Preset {
    /// The name used in settings.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Password => "password",
            Preset::Pin => "pin",
            Preset::Passcode => "passcode",
            Preset::Custom => "custom",
        }
    }
}

impl std::str::FromStr for Preset {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "password" => Ok(Preset::Password),
            "pin" => Ok(Preset::Pin),
            "passcode" => Ok(Preset::Passcode),
            "custom" => Ok(Preset::Custom),
            other => Err(Error::invalid_input(format!(
                "unknown policy preset {other:?}; use password, pin, passcode or custom"
            ))),
        }
    }
}

/// The integrator's requirements on the secret a user chooses.
///
/// Every preset takes NIST SP 800-63B's approach: no composition rules (no
/// "one upper-case letter, one digit, one symbol"), long passphrases
/// welcome, every printable character allowed (spaces and emoji too), and a
/// check against common, repeated and sequential choices. Only
/// [`password`](Policy::password) also meets 800-63B's minimum of 8
/// characters for a secret the user chooses; [`pin`](Policy::pin) and
/// [`passcode`](Policy::passcode) (6) and [`custom`](Policy::custom) (1)
/// deliberately do not, and normalization is NFC (RFC 8265) where NIST
/// suggests NFKC or NFKD (see the crate README). Length counts Unicode
/// characters after normalization (`é` is one character however it was typed).
///
/// | preset | length | characters | blocklist and patterns | minimum zxcvbn score |
/// | --- | --- | --- | --- | --- |
/// | [`password`](Policy::password) | 8 to 256 | any | yes | 3 of 4 |
/// | [`pin`](Policy::pin) | 6 to 12 | digits | yes | none |
/// | [`passcode`](Policy::passcode) | 6 to 64 | letters and digits | yes | 1 of 4 |
/// | [`custom`](Policy::custom) | 1 to 256 | any | yes | none |
///
/// Every preset can be adjusted with the `with_*` methods.
///
/// ```
/// use share_backup_password::{CharClass, CharClasses, Policy, Violation};
///
/// // A passphrase passes the password preset; a common password does not.
/// assert!(Policy::password().check("correct horse battery staple").is_empty());
/// assert_eq!(Policy::password().check("password")[0], Violation::Common);
///
/// // PINs: digits only, at least 6, nothing obvious.
/// assert!(Policy::pin().check("280417").is_empty());
/// assert_eq!(Policy::pin().check("123456"), vec![Violation::Common, Violation::Sequential]);
/// assert_eq!(Policy::pin().check("1357"), vec![Violation::TooShort { min: 6, actual: 4 }, Violation::Sequential]);
///
/// // A custom policy with the integrator's own rules.
/// let policy = Policy::custom()
///     .with_min_length(10)
///     .with_required(CharClasses::NONE.with(CharClass::Digit))
///     .with_min_score(Some(2));
/// assert!(policy.check("mellow-otter-42").is_empty());
/// assert!(policy.check("mellow otter").contains(&Violation::MissingClass { class: CharClass::Digit }));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Policy {
    preset: Preset,
    min_len: usize,
    max_len: usize,
    allowed: CharClasses,
    required: CharClasses,
    min_score: Option<u8>,
    blocklist: Blocklist,
    patterns: bool,
}

impl Policy {
    /// Passwords and passphrases: 8 to 256 characters, any character,
    /// blocklist and patterns, zxcvbn score at least 3 ("safely
    /// unguessable"): the backup must survive an offline guessing attack.
    pub fn password() -> Self {
        Policy {
            preset: Preset::Password,
            min_len: 8,
            max_len: 256,
            allowed: CharClasses::ALL,
            required: CharClasses::NONE,
            min_score: Some(3),
            blocklist: Blocklist::default(),
            patterns: true,
        }
    }

    /// PIN codes: 6 to 12 digits; common, repeated (`000000`, `121212`) and
    /// sequential (`123456`, `2468`) PINs refused. Keep the KDF costs high
    /// for PINs: a 6-digit PIN has only a million values.
    pub fn pin() -> Self {
        Policy {
            preset: Preset::Pin,
            min_len: 6,
            max_len: 12,
            allowed: CharClasses::DIGITS,
            required: CharClasses::NONE,
            min_score: None,
            blocklist: Blocklist::default(),
            patterns: true,
        }
    }

    /// Passcodes (a phone-style alphanumeric code): 6 to 64 letters and
    /// digits, blocklist and patterns, zxcvbn score at least 1 (no bare
    /// dictionary word). Like PINs, short passcodes lean on the KDF costs.
    pub fn passcode() -> Self {
        Policy {
            preset: Preset::Passcode,
            min_len: 6,
            max_len: 64,
            allowed: CharClasses::ALPHANUMERIC,
            required: CharClasses::NONE,
            min_score: Some(1),
            blocklist: Blocklist::default(),
            patterns: true,
        }
    }

    /// A starting point for the integrator's own rules ("any other
    /// text-based input"): 1 to 256 characters, any character, blocklist and
    /// patterns, no strength score.
    pub fn custom() -> Self {
        Policy {
            preset: Preset::Custom,
            min_len: 1,
            max_len: 256,
            allowed: CharClasses::ALL,
            required: CharClasses::NONE,
            min_score: None,
            blocklist: Blocklist::default(),
            patterns: true,
        }
    }

    /// The policy of a preset.
    pub fn from_preset(preset: Preset) -> Self {
        match preset {
            Preset::Password => Policy::password(),
            Preset::Pin => Policy::pin(),
            Preset::Passcode => Policy::passcode(),
            Preset::Custom => Policy::custom(),
        }
    }

    /// Sets the minimum length in characters.
    pub fn with_min_length(mut self, min: usize) -> Self {
        self.min_len = min;
        self
    }

    /// Sets the maximum length in characters (at most [`MAX_PASSWORD_CHARS`]).
    pub fn with_max_length(mut self, max: usize) -> Self {
        self.max_len = max;
        self
    }

    /// Sets the classes allowed.
    pub fn with_allowed(mut self, allowed: CharClasses) -> Self {
        self.allowed = allowed;
        self
    }

    /// Sets the classes required (composition rules; NIST advises against
    /// them, but some integrators must).
    pub fn with_required(mut self, required: CharClasses) -> Self {
        self.required = required;
        self
    }

    /// Sets the minimum zxcvbn score (0 to 4), or none.
    pub fn with_min_score(mut self, min: Option<u8>) -> Self {
        self.min_score = min;
        self
    }

    /// Replaces the blocklist.
    pub fn with_blocklist(mut self, blocklist: Blocklist) -> Self {
        self.blocklist = blocklist;
        self
    }

    /// Turns the repeated and sequential pattern rules on or off.
    pub fn with_patterns(mut self, on: bool) -> Self {
        self.patterns = on;
        self
    }

    /// The preset it started from.
    pub fn preset(&self) -> Preset {
        self.preset
    }

    /// Minimum length in characters.
    pub fn min_length(&self) -> usize {
        self.min_len
    }

    /// Maximum length in characters.
    pub fn max_length(&self) -> usize {
        self.max_len
    }

    /// Classes allowed.
    pub fn allowed(&self) -> CharClasses {
        self.allowed
    }

    /// Classes required.
    pub fn required(&self) -> CharClasses {
        self.required
    }

    /// Minimum zxcvbn score.
    pub fn min_score(&self) -> Option<u8> {
        self.min_score
    }

    /// The blocklist.
    pub fn blocklist(&self) -> &Blocklist {
        &self.blocklist
    }

    /// Whether repeated (`aaaa`) and sequential (`1234`, `abcd`) choices are refused.
    pub fn patterns(&self) -> bool {
        self.patterns
    }

    /// The requirements, one short sentence each, as a UI lists them before
    /// the user types (the same rules [`Self::check`] enforces).
    ///
    /// ```
    /// use share_backup_password::Policy;
    ///
    /// let lines = Policy::pin().requirements();
    /// assert_eq!(lines[0], "6 to 12 characters");
    /// assert!(lines.contains(&"only digits".to_owned()));
    /// ```
    pub fn requirements(&self) -> Vec<String> {
        let mut out = vec![format!("{} to {} characters", self.min_len, self.max_len)];
        if self.allowed != CharClasses::ALL {
            let names: Vec<&str> = self.allowed.iter().map(CharClass::describe).collect();
            out.push(format!("only {}", names.join(", ")));
        }
        if !self.required.is_empty() {
            let names: Vec<&str> = self.required.iter().map(CharClass::describe).collect();
            out.push(format!("at least one of each: {}", names.join(", ")));
        }
        let avoid = match (!self.blocklist.is_empty(), self.patterns) {
            (true, true) => "not a common, repeated or sequential choice, nor your user id",
            (true, false) => "not a common choice, nor your user id",
            (false, true) => "not a repeated or sequential choice, nor your user id",
            (false, false) => "not your user id",
        };
        out.push(avoid.to_owned());
        if let Some(s) = self.min_score {
            out.push(format!("strength at least {s} of 4"));
        }
        out
    }

    /// Checks that the policy itself makes sense.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](share_backup_core::ErrorKind::InvalidInput)
    /// when the lengths are inverted or out of range, no class is allowed,
    /// a required class is not allowed, or the score is above 4.
    pub fn validate(&self) -> Result<()> {
        if self.min_len == 0 || self.min_len > self.max_len || self.max_len > MAX_PASSWORD_CHARS {
            return Err(Error::invalid_input(format!(
                "password policy lengths must satisfy 1 <= min_length <= max_length <= {MAX_PASSWORD_CHARS}, got {} and {}",
                self.min_len, self.max_len
            )));
        }
        if self.allowed.is_empty() {
            return Err(Error::invalid_input("a password policy must allow at least one character class"));
        }
        if !self.allowed.contains_all(self.required) {
            return Err(Error::invalid_input(format!(
                "the policy requires classes it does not allow: required {}, allowed {}",
                self.required, self.allowed
            )));
        }
        if self.min_score.is_some_and(|s| s > 4) {
            return Err(Error::invalid_input("the minimum zxcvbn score is 0 to 4"));
        }
        Ok(())
    }

    /// Every requirement `password` breaks, for a UI to show as the user
    /// types; empty when it is acceptable.
    ///
    /// Every rule is evaluated on the normalized text and each one that
    /// fails adds its violation, always in this order:
    /// [`TooShort`](Violation::TooShort), [`TooLong`](Violation::TooLong),
    /// [`DisallowedClass`](Violation::DisallowedClass) (one per class, in
    /// [`CharClass::ALL`] order), [`MissingClass`](Violation::MissingClass)
    /// (likewise), [`Common`](Violation::Common),
    /// [`Repeated`](Violation::Repeated), [`Sequential`](Violation::Sequential),
    /// [`ContainsUserId`](Violation::ContainsUserId),
    /// [`TooGuessable`](Violation::TooGuessable) (zxcvbn runs whenever the
    /// policy has a minimum score, whatever else failed).
    ///
    /// Two cases stand alone, because there is no normalized text to check
    /// the other rules on: an empty input is only [`Violation::Empty`], and
    /// an input that cannot be normalized (a control character or an
    /// unassigned code point) is only [`Violation::InvalidCharacter`].
    /// `Repeated` and `Sequential` never appear together: no text is both
    /// (a sequence's characters change by a fixed step that no period of
    /// 1 to 4 characters brings back to the start).
    ///
    /// ```
    /// use share_backup_password::{Policy, Violation};
    ///
    /// let v = Policy::password().check("qwerty");
    /// assert_eq!(&v[..2], &[Violation::TooShort { min: 8, actual: 6 }, Violation::Common]);
    /// assert!(matches!(v[2], Violation::TooGuessable { score: 0, min: 3, .. }));
    /// ```
    pub fn check(&self, password: &str) -> Vec<Violation> {
        self.check_with_inputs(password, &[])
    }

    /// As [`Self::check`], also refusing passwords built on `user_inputs`
    /// (the user id, an email address, a name).
    pub fn check_with_inputs(&self, password: &str, user_inputs: &[&str]) -> Vec<Violation> {
        match NormalizedPassword::new(password) {
            Ok(n) => self.check_normalized(&n, user_inputs),
            Err(NormalizeError::Empty) => vec![Violation::Empty],
            Err(_) => vec![Violation::InvalidCharacter],
        }
    }

    /// Checks `password` and turns violations into the provider's error.
    ///
    /// # Errors
    /// [`ErrorKind::PolicyViolation`](share_backup_core::ErrorKind::PolicyViolation)
    /// with the violations in the message and as a [`PolicyViolations`] source.
    pub fn enforce(&self, password: &str, user_inputs: &[&str]) -> Result<()> {
        violations_to_result(self.check_with_inputs(password, user_inputs))
    }

    pub(crate) fn check_normalized(&self, pw: &NormalizedPassword, user_inputs: &[&str]) -> Vec<Violation> {
        let text = pw.expose_secret();
        // Every copy of the password made here is wiped when dropped.
        let chars: zeroize::Zeroizing<Vec<char>> = zeroize::Zeroizing::new(text.chars().collect());
        let mut out = Vec::new();
        let n = chars.len();
        if n < self.min_len {
            out.push(Violation::TooShort { min: self.min_len, actual: n });
        }
        if n > self.max_len {
            out.push(Violation::TooLong { max: self.max_len, actual: n });
        }
        let present: CharClasses = chars.iter().map(|c| CharClass::of(*c)).collect();
        for class in present.iter().filter(|c| !self.allowed.contains(*c)) {
            out.push(Violation::DisallowedClass { class, allowed: self.allowed });
        }
        for class in self.required.iter().filter(|c| !present.contains(*c)) {
            out.push(Violation::MissingClass { class });
        }
        if self.blocklist.contains(text) {
            out.push(Violation::Common);
        }
        if self.patterns {
            // Both rules are always evaluated; no text is both (see `is_sequential`).
            let folded = zeroize::Zeroizing::new(text.to_lowercase());
            let lower: zeroize::Zeroizing<Vec<char>> = zeroize::Zeroizing::new(folded.chars().collect());
            if is_repeated(&lower) {
                out.push(Violation::Repeated);
            }
            if is_sequential(&lower) {
                out.push(Violation::Sequential);
            }
        }
        if contains_user_input(text, user_inputs) {
            out.push(Violation::ContainsUserId);
        }
        // Scored whatever else failed, so a UI sees the strength problem
        // next to the others (at most 100 characters: about 2 ms).
        if let Some(min) = self.min_score {
            let scored = zeroize::Zeroizing::new(chars.iter().take(MAX_SCORED_CHARS).collect::<String>());
            let entropy = zxcvbn::zxcvbn(&scored, user_inputs);
            let score = u8::from(entropy.score());
            if score < min {
                let warning = entropy.feedback().and_then(|f| f.warning()).map(|w| w.to_string());
                out.push(Violation::TooGuessable { score, min, warning });
            }
        }
        out
    }
}

/// zxcvbn's estimate of how hard a password is to guess, for a UI to show
/// beside the requirements as the user types. It carries no part of the
/// text; its `Debug` and `Display` are safe to log.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Strength {
    /// 0 (trivial) to 4 (very hard to guess): the scale of
    /// [`Policy::min_score`].
    pub score: u8,
    /// `very weak`, `weak`, `fair`, `strong` or `very strong`.
    pub label: &'static str,
    /// How long an offline attacker guessing 10^4 times a second against a
    /// slow hash needs, in words (`3 hours`, `centuries`).
    pub offline_time: String,
    /// zxcvbn's suggestions: generic sentences, never the text.
    pub suggestions: Vec<String>,
}

impl fmt::Display for Strength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "strength {} of 4 ({}; time to guess offline: {})", self.score, self.label, self.offline_time)
    }
}

/// Estimates the strength of `password`, penalising text built on
/// `user_inputs` (the user id, a name). It scores the normalized text (as
/// the provider stores it) and at most the first 100 characters, as
/// [`Policy::check`] does, so a pasted novel cannot stall a UI.
///
/// ```
/// use share_backup_password::strength;
///
/// assert!(strength("password1", &["alice"]).score <= 1);
/// let s = strength("correct horse battery staple on a mellow otter", &["alice"]);
/// assert_eq!(s.score, 4);
/// assert!(s.to_string().starts_with("strength 4 of 4 (very strong"));
/// ```
pub fn strength(password: &str, user_inputs: &[&str]) -> Strength {
    let normalized = NormalizedPassword::new(password).ok();
    let text = normalized.as_ref().map_or(password, |n| n.expose_secret());
    let scored = zeroize::Zeroizing::new(text.chars().take(MAX_SCORED_CHARS).collect::<String>());
    let e = zxcvbn::zxcvbn(&scored, user_inputs);
    let score = u8::from(e.score()).min(4);
    let suggestions =
        e.feedback().map(|f| f.suggestions().iter().map(ToString::to_string).collect()).unwrap_or_default();
    Strength {
        score,
        label: ["very weak", "weak", "fair", "strong", "very strong"][usize::from(score)],
        offline_time: e.crack_times().offline_slow_hashing_1e4_per_second().to_string(),
        suggestions,
    }
}

pub(crate) fn violations_to_result(v: Vec<Violation>) -> Result<()> {
    if v.is_empty() { Ok(()) } else { Err(violation_error(v)) }
}

/// The `PolicyViolation` error for a non-empty list of violations.
pub(crate) fn violation_error(v: Vec<Violation>) -> Error {
    let codes: Vec<&str> = v.iter().map(Violation::code).collect();
    let err = PolicyViolations(v);
    Error::new(
        share_backup_core::ErrorKind::PolicyViolation,
        format!("the password does not meet the requirements ({}): {err}", codes.join(", ")),
    )
    .with_source(err)
}

/// A short unit (1 to 4 characters) repeated over the whole text, at least
/// twice and over at least 4 characters: `0000`, `121212`, `abcabc`.
fn is_repeated(c: &[char]) -> bool {
    let n = c.len();
    n >= 4 && (1..=4).any(|p| n >= 2 * p && (p..n).all(|i| c[i] == c[i - p]))
}

/// The whole text is an arithmetic run of at least 4 characters: digits
/// with a step of ±1 or ±2 (wrapping, `7890`), or ASCII letters with a step
/// of ±1.
///
/// Never true of a text [`is_repeated`] accepts: a period `p` of 1 to 4
/// would need `p × step ≡ 0 (mod 10)` for digits, which no step of 1, 2, 8
/// or 9 gives, and letters never wrap (pinned by
/// `no_text_is_both_repeated_and_sequential`).
fn is_sequential(c: &[char]) -> bool {
    if c.len() < 4 {
        return false;
    }
    if c.iter().all(char::is_ascii_digit) {
        let d: Vec<u32> = c.iter().map(|x| *x as u32 - '0' as u32).collect();
        let step = (d[1] + 10 - d[0]) % 10;
        return matches!(step, 1 | 2 | 8 | 9) && d.windows(2).all(|w| (w[1] + 10 - w[0]) % 10 == step);
    }
    if c.iter().all(char::is_ascii_lowercase) {
        let d: Vec<i32> = c.iter().map(|x| *x as i32).collect();
        let step = d[1] - d[0];
        return step.abs() == 1 && d.windows(2).all(|w| w[1] - w[0] == step);
    }
    false
}

/// Whether `text` contains one of the user inputs (or an email's local
/// part) of at least 4 characters, case-insensitively.
fn contains_user_input(text: &str, inputs: &[&str]) -> bool {
    let text = zeroize::Zeroizing::new(text.to_lowercase());
    inputs.iter().any(|input| {
        let input = input.to_lowercase();
        let local = input.split('@').next().unwrap_or("");
        [input.as_str(), local].iter().any(|part| part.chars().count() >= 4 && text.contains(part))
    })
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("preset", &self.preset.name())
            .field("length", &(self.min_len..=self.max_len))
            .field("allowed", &self.allowed)
            .field("required", &self.required)
            .field("min_score", &self.min_score)
            .field("blocklist", &self.blocklist)
            .field("patterns", &self.patterns)
            .finish()
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::password()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_patterns_are_recognized() {
        for s in ["0000", "000000", "121212", "123123", "abab", "abcdabcd", "1212121"] {
            assert!(is_repeated(&s.chars().collect::<Vec<_>>()), "{s}");
        }
        for s in ["aab", "000", "280417", "abcdeabcde", "12341235"] {
            assert!(!is_repeated(&s.chars().collect::<Vec<_>>()), "{s}");
        }
    }

    #[test]
    fn sequential_patterns_are_recognized() {
        for s in ["1234", "123456", "654321", "7890", "2468", "97531", "abcdef", "zyxw"] {
            assert!(is_sequential(&s.chars().collect::<Vec<_>>()), "{s}");
        }
        for s in ["123", "1235", "280417", "1470", "abce", "aceg", "12ab"] {
            assert!(!is_sequential(&s.chars().collect::<Vec<_>>()), "{s}");
        }
    }

    #[test]
    fn no_text_is_both_repeated_and_sequential() {
        // Every sequence is_sequential accepts, at every length up to 24: none is also repeated.
        let mut checked = 0;
        for len in 4..=24usize {
            for start in 0..10u32 {
                for step in [1u32, 2, 8, 9] {
                    let s: Vec<char> =
                        (0..len as u32).map(|i| char::from_digit((start + i * step) % 10, 10).unwrap()).collect();
                    assert!(is_sequential(&s), "{s:?}");
                    assert!(!is_repeated(&s), "{s:?}");
                    checked += 1;
                }
            }
            for start in b'a'..=b'z' {
                for up in [true, false] {
                    let s: Option<Vec<char>> = (0..len as u8)
                        .map(|i| if up { start.checked_add(i) } else { start.checked_sub(i) })
                        .map(|c| c.filter(u8::is_ascii_lowercase).map(char::from))
                        .collect();
                    if let Some(s) = s {
                        assert!(is_sequential(&s) && !is_repeated(&s), "{s:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 800, "{checked}");
    }

    #[test]
    fn strength_grows_with_guessing_difficulty_and_never_carries_the_text() {
        let weak = strength("password1", &["alice"]);
        let strong = strength("correct horse battery staple on a mellow otter", &["alice"]);
        assert!(weak.score < strong.score, "{weak:?} {strong:?}");
        assert_eq!((strong.score, strong.label), (4, "very strong"));
        for shown in [weak.to_string(), format!("{weak:?}")] {
            assert!(!shown.contains("password1"), "{shown}");
        }
        assert!(strength("alice2024", &["alice"]).score <= strength("alice2024", &[]).score, "user inputs penalise");
    }

    #[test]
    fn requirements_follow_the_policy() {
        let r = Policy::pin().requirements().join("\n");
        assert!(r.contains("6 to 12 characters") && r.contains("only digits"), "{r}");
        assert!(r.contains("not a common, repeated or sequential choice"), "{r}");
        let r = Policy::password().requirements().join("\n");
        assert!(!r.contains("only"), "{r}");
        assert!(r.contains("strength at least 3 of 4"), "{r}");
        let r = Policy::custom().with_blocklist(Blocklist::empty()).with_patterns(false).requirements().join("\n");
        assert!(r.contains("not your user id") && !r.contains("common"), "{r}");
    }
}
