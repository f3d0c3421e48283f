//! What can be notified. Push payloads and inbox entries carry the event type
//! and ids to fetch, never health data; titles are generic Japanese text.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// New lab results, prescriptions or other documents arrived from a facility.
    ClinicalData,
    /// Someone accepted the person's invitation.
    InvitationAccepted,
    /// The account was granted access to someone's record.
    GrantCreated,
    /// The account's access to someone's record was revoked.
    GrantRevoked,
    /// Someone opened the record in an emergency.
    EmergencyAccess,
    /// An alert rule fired.
    Alert,
    /// The record changed on another device or by a grantee: sync now (silent, no inbox entry).
    Sync,
    /// A pharmacy or clinic redeemed the person's share code.
    ShareCodeRedeemed,
    /// A programme nurse wrote a guidance note to the person.
    GuidanceNote,
}

impl EventKind {
    pub const ALL: [EventKind; 9] = [
        EventKind::ClinicalData,
        EventKind::InvitationAccepted,
        EventKind::GrantCreated,
        EventKind::GrantRevoked,
        EventKind::EmergencyAccess,
        EventKind::Alert,
        EventKind::Sync,
        EventKind::ShareCodeRedeemed,
        EventKind::GuidanceNote,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::ClinicalData => "clinical_data",
            EventKind::InvitationAccepted => "invitation_accepted",
            EventKind::GrantCreated => "grant_created",
            EventKind::GrantRevoked => "grant_revoked",
            EventKind::EmergencyAccess => "emergency_access",
            EventKind::Alert => "alert",
            EventKind::Sync => "sync",
            EventKind::ShareCodeRedeemed => "share_code_redeemed",
            EventKind::GuidanceNote => "guidance_note",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Generic text for the visible notification: never a value or a name.
    pub fn notice(self) -> (&'static str, &'static str) {
        match self {
            EventKind::ClinicalData => ("新しい診療データ", "医療機関から新しいデータが届きました。"),
            EventKind::InvitationAccepted => ("招待が承認されました", "共有の招待が承認されました。"),
            EventKind::GrantCreated => ("記録が共有されました", "記録の閲覧が許可されました。"),
            EventKind::GrantRevoked => ("共有が終了しました", "記録の共有が取り消されました。"),
            EventKind::EmergencyAccess => ("緊急時の閲覧", "救急の場で記録が閲覧されました。"),
            EventKind::Alert => ("アラート", "設定した基準を超える記録がありました。"),
            EventKind::Sync => ("", ""),
            EventKind::ShareCodeRedeemed => ("共有コードが使われました", "共有コードで記録が開かれました。"),
            EventKind::GuidanceNote => ("保健指導", "保健師からメッセージが届きました。"),
        }
    }

    /// Emergencies break through quiet hours and go at the highest priority.
    pub fn is_emergency(self) -> bool {
        self == EventKind::EmergencyAccess
    }
}
