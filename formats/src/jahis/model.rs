//! The typed result of a parse: one [`MedicationHandbook`] per payload, its dispensing groups,
//! RPs and drugs, and the code tables of the specification as enums. Serialises to camelCase
//! JSON; dates are `YYYY-MM-DD` whatever form (era or Gregorian) the payload used.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::error::Warning;

/// A code table of the specification: each variant is one code as written in the payload.
macro_rules! code_table {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every code this table defines, in specification order.
            pub const CODES: &'static [&'static str] = &[$($code),+];

            /// The value for a code as written in the payload (`"1"`), if the table defines it.
            /// Surrounding spaces, full-width digits and leading zeros are accepted.
            #[must_use]
            pub fn from_code(code: &str) -> Option<Self> {
                match super::text::normalize_code(code).as_ref() {
                    $( $code => Some(Self::$variant), )+
                    _ => None,
                }
            }

            /// The code as the specification writes it.
            #[must_use]
            pub fn code(self) -> &'static str {
                match self {
                    $( Self::$variant => $code, )+
                }
            }
        }
    };
}

code_table! {
    /// 出力区分 of the version record (Ver.2.0+).
    OutputKind {
        /// 1: a hospital or pharmacy gives the data to the patient.
        ToPatient = "1",
        /// 2: the patient (or an app) gives the data to a provider or another app.
        ToProvider = "2",
    }
}

code_table! {
    /// レコード作成者: who wrote a record.
    RecordCreator {
        MedicalStaff = "1",
        Patient = "2",
        Other = "8",
        Unknown = "9",
    }
}

code_table! {
    /// 患者性別.
    Sex {
        Male = "1",
        Female = "2",
    }
}

code_table! {
    /// 患者特記種別 (record 2).
    PatientNoteKind {
        /// アレルギー歴
        Allergy = "1",
        /// 副作用歴
        SideEffect = "2",
        /// 既往歴
        PastIllness = "3",
        /// その他
        Other = "9",
    }
}

code_table! {
    /// コード種別 of an OTC ingredient (record 31).
    IngredientCodeType {
        NoCode = "1",
        /// 成分名コード (セルフメディケーション・データベースセンター).
        IngredientCode = "2",
    }
}

code_table! {
    /// 点数表 of a medical institution or pharmacy (records 11 and 51).
    ScoreTable {
        /// 医科
        Medical = "1",
        /// 歯科
        Dental = "3",
        /// 調剤 (a pharmacy)
        Pharmacy = "4",
    }
}

code_table! {
    /// 薬品コード種別 (record 201). There is no code 5.
    DrugCodeType {
        NoCode = "1",
        /// レセプト電算処理システム用コード (9 digits).
        Receipt = "2",
        /// 厚生労働省コード (薬価基準収載医薬品コード, 12 characters).
        Mhlw = "3",
        /// YJコード.
        Yj = "4",
        /// HOTコード.
        Hot = "6",
    }
}

code_table! {
    /// 一般名コード種別 (record 201, Ver.2.5+).
    GenericCodeType {
        NoCode = "1",
        /// 一般名コード (一般名処方マスタ).
        GenericName = "2",
    }
}

code_table! {
    /// 剤形コード (record 301). Decides what the amount and the dispensed quantity mean.
    DosageForm {
        /// 内服: amount per day, quantity in days.
        Internal = "1",
        /// 内滴
        InternalDrops = "2",
        /// 頓服: amount per dose, quantity in doses.
        AsNeeded = "3",
        /// 注射
        Injection = "4",
        /// 外用: total amount.
        External = "5",
        /// 浸煎: quantity in days.
        Infusion = "6",
        /// 湯: quantity in days.
        Decoction = "7",
        /// 材料
        Material = "9",
        /// その他
        Other = "10",
    }
}

code_table! {
    /// 用法コード種別 (record 301).
    UsageCodeType {
        NoCode = "1",
        /// JAMI 標準用法コード.
        Jami = "2",
    }
}

code_table! {
    /// 提供情報種別 (record 411).
    ProviderNoteKind {
        /// 30: a drug that caused a side effect during a hospital stay.
        SideEffectInHospital = "30",
        /// 31: what the next hospital or pharmacy needs to know after discharge.
        AfterDischarge = "31",
        /// 99: その他.
        Other = "99",
    }
}

/// The version record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FormatVersion {
    /// As written, upper-cased: `JAHISTC07`.
    pub header: String,
    /// The two digits: 7 for `JAHISTC07`.
    pub number: u8,
    /// The version is newer than [`super::NEWEST_KNOWN_VERSION`] and was read with the newest
    /// known layout: fields that version added are ignored (each noted in the warnings).
    pub newer_than_known: bool,
}

/// The JAHIS data split (record 911) the payload was assembled from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataSplit {
    /// データ固有ID, as written (14 digits per the specification).
    pub data_id: String,
    /// 分割数.
    pub part_count: u16,
}

/// One payload: everything one QR code (or one set of split codes) carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MedicationHandbook {
    pub version: FormatVersion,
    /// 出力区分; absent before JAHISTC03.
    pub output_kind: Option<OutputKind>,
    /// Set when the payload came in JAHIS split parts (record 911).
    pub split: Option<DataSplit>,
    /// Record 1.
    pub patient: Option<Patient>,
    /// Records 2: allergies, side effects, past illnesses.
    pub patient_notes: Vec<PatientNote>,
    /// Records 3 with their 31 ingredients.
    pub otc_drugs: Vec<OtcDrug>,
    /// Records 4.
    pub memos: Vec<Memo>,
    /// One per record 5, in payload order (exports list the newest first).
    pub dispensings: Vec<Dispensing>,
    /// Records 701 (かかりつけ薬剤師).
    pub family_pharmacists: Vec<FamilyPharmacist>,
    /// What was tolerated while reading: unknown codes, ignored fields, unknown records.
    pub warnings: Vec<Warning>,
}

/// Record 1 (患者情報).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Patient {
    /// 患者氏名 (kanji, family and given name separated by a space).
    pub name: String,
    /// 患者氏名カナ (Ver.2.0+).
    pub kana_name: Option<String>,
    pub sex: Option<Sex>,
    pub birth_date: Option<NaiveDate>,
    pub postcode: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub emergency_contact: Option<String>,
    pub blood_type: Option<String>,
    pub weight_kg: Option<f64>,
}

/// Record 2 (患者特記).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatientNote {
    /// `None` when the payload's code is not in the table (see the warnings).
    pub kind: Option<PatientNoteKind>,
    pub text: String,
    pub created_by: Option<RecordCreator>,
}

/// Record 3 (要指導医薬品・一般用医薬品服用).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OtcDrug {
    pub name: String,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub created_by: Option<RecordCreator>,
    /// レコード通番 (Ver.2.5+): links the 31 ingredient records.
    pub sequence: Option<u32>,
    /// JANコード (Ver.2.5+).
    pub jan_code: Option<String>,
    /// Records 31.
    pub ingredients: Vec<OtcIngredient>,
}

/// Record 31 (要指導医薬品・一般用医薬品成分, Ver.2.5+).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OtcIngredient {
    pub name: String,
    pub code_type: Option<IngredientCodeType>,
    pub code: Option<String>,
    pub created_by: Option<RecordCreator>,
}

/// Record 4 (手帳メモ).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Memo {
    pub text: String,
    pub date: Option<NaiveDate>,
    pub created_by: Option<RecordCreator>,
}

/// One dispensing group: a record 5 and everything up to the next 5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dispensing {
    /// 調剤等年月日.
    pub date: NaiveDate,
    pub created_by: Option<RecordCreator>,
    /// Record 11: the pharmacy (or hospital) that dispensed.
    pub pharmacy: Option<Institution>,
    /// Record 15: the pharmacist (or doctor) who dispensed.
    pub pharmacist: Option<Pharmacist>,
    /// Record 51: where the prescription came from (only when a pharmacy dispensed).
    pub prescribing_institution: Option<Institution>,
    /// Records 55 in order; each RP also carries the one in force for it.
    pub doctors: Vec<Doctor>,
    /// RPs in order of first appearance.
    pub rps: Vec<Rp>,
    /// Records 401 (服用注意): warnings for the whole dispensing.
    pub precautions: Vec<Note>,
    /// Records 411 (医療機関等提供情報).
    pub provider_notes: Vec<ProviderNote>,
    /// Records 421 (残薬確認).
    pub leftover_checks: Vec<Note>,
    /// Records 501 (備考).
    pub remarks: Vec<Note>,
    /// Records 601 (患者等記入).
    pub patient_entries: Vec<PatientEntry>,
}

/// Records 11 and 51 (a pharmacy or a medical institution).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Institution {
    pub name: String,
    /// 都道府県 code `01`–`47`, as written.
    pub prefecture: Option<String>,
    pub score_table: Option<ScoreTable>,
    /// 7-digit 医療機関等コード, leading zeros kept.
    pub code: Option<String>,
    /// Record 11 only.
    pub postcode: Option<String>,
    /// Record 11 only.
    pub address: Option<String>,
    /// Record 11 only.
    pub phone: Option<String>,
    pub created_by: Option<RecordCreator>,
}

impl Institution {
    /// The 10-digit national code (prefecture + score table + 7-digit code), when all three
    /// parts are present and well formed: `1341234567`.
    #[must_use]
    pub fn national_code(&self) -> Option<String> {
        let prefecture = self.prefecture.as_deref()?;
        let table = self.score_table?;
        let code = self.code.as_deref()?;
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        (digits(prefecture, 2) && digits(code, 7)).then(|| format!("{prefecture}{}{code}", table.code()))
    }
}

/// Record 15 (調剤－医師・薬剤師).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pharmacist {
    pub name: String,
    pub contact: Option<String>,
    pub created_by: Option<RecordCreator>,
}

/// Record 55 (処方－医師).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Doctor {
    pub name: String,
    pub department: Option<String>,
    pub created_by: Option<RecordCreator>,
}

/// One RP (prescription line group): drugs taken together the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rp {
    /// RP番号 (restarts in every dispensing).
    pub number: u32,
    /// The record 55 in force when the RP first appeared.
    pub doctor: Option<Doctor>,
    /// Records 201.
    pub drugs: Vec<Drug>,
    /// Record 301.
    pub usage: Option<Usage>,
    /// Records 311 (用法補足).
    pub usage_notes: Vec<Note>,
    /// Records 391 (処方服用注意).
    pub precautions: Vec<Note>,
}

/// Record 201 (薬品) with its 281 and 291.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Drug {
    pub name: String,
    /// 用量 as written (`"1.5"`): per day for 内服, per dose for 頓服, total otherwise.
    pub amount: Option<String>,
    pub unit: Option<String>,
    pub code_type: Option<DrugCodeType>,
    pub code: Option<String>,
    pub created_by: Option<RecordCreator>,
    /// 一般名 (Ver.2.5+).
    pub generic_name: Option<String>,
    pub generic_code_type: Option<GenericCodeType>,
    pub generic_code: Option<String>,
    /// Records 281 (薬品補足).
    pub supplements: Vec<Note>,
    /// Records 291 (薬品服用注意).
    pub precautions: Vec<Note>,
}

/// Record 301 (用法).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// 用法名称: `【分２ 朝夕食後服用】`.
    pub text: Option<String>,
    /// 調剤数量: days for 内服/浸煎/湯, doses for 頓服, 1 otherwise.
    pub quantity: Option<u32>,
    /// 調剤単位: `日分`, `回分`, `調剤`.
    pub quantity_unit: Option<String>,
    pub dosage_form: Option<DosageForm>,
    pub code_type: Option<UsageCodeType>,
    pub code: Option<String>,
    pub created_by: Option<RecordCreator>,
    /// The quantity when it counts days (unit `日分`, or a 内服/浸煎/湯 form without a unit):
    /// what makes the medication "current".
    pub days_supply: Option<u32>,
}

/// A free-text record with its creator (281, 291, 311, 391, 401, 421, 501).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    pub text: String,
    pub created_by: Option<RecordCreator>,
}

/// Record 411 (医療機関等提供情報).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderNote {
    pub text: String,
    pub kind: Option<ProviderNoteKind>,
    pub created_by: Option<RecordCreator>,
}

/// Record 601 (患者等記入): written by the patient, so it has no creator field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatientEntry {
    pub text: String,
    pub date: Option<NaiveDate>,
}

/// Record 701 (かかりつけ薬剤師, Ver.2.1+).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FamilyPharmacist {
    pub name: String,
    pub pharmacy: Option<String>,
    pub contact: Option<String>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub created_by: Option<RecordCreator>,
}
