//! Notifications to people's devices. `fcm` delivers one push message through
//! Firebase Cloud Messaging and says what its answer means for the caller.

pub mod fcm;
