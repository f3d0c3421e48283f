//! Generic HL7 v2 messages as text: segments, fields, repetitions, components, subcomponents
//! and escape sequences, with the delimiters each message declares in MSH. Knows no character
//! sets (decode first: [`crate::ssmix2::decode`]) and no message types.
//!
//! ```
//! use phr_formats::hl7;
//!
//! let message = hl7::parse("MSH|^~\\&|HIS|SEND\rPID|1||123||Yamada^Taro\\T\\Jr~ヤマダ^タロウ\r")?;
//! let pid = message.segment("PID").expect("a PID segment");
//! assert_eq!(pid.field(5).component(2).text(), "Taro&Jr");
//! assert_eq!(pid.field(5).repetition(2).component(1).text(), "ヤマダ");
//! # Ok::<(), hl7::Hl7Error>(())
//! ```

mod error;
mod escape;
mod message;
mod timestamp;
mod value;

pub(crate) use error::excerpt;
pub use error::{Hl7Error, Location, Warning, WarningKind};
pub use escape::unescape;
pub(crate) use message::count_lines;
pub use message::{Framing, Message, Segment, check_after_end, parse, strip_framing};
pub use timestamp::{Precision, Timestamp, TimestampParseError, parse_decimal};
pub use value::{Delimiters, Value};
