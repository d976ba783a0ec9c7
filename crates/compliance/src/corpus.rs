//! A labelled benchmark corpus, generated from a seed: server logs, CSV exports, JSON dumps,
//! support tickets in Chinese and English, lyrics full of numbers that are not personal data, and
//! a users table for SQLite. Hard negatives (wrong check digits, impossible dates, unknown
//! regions, Luhn-invalid cards, order ids, timestamps, durations, versions, ISRCs) are mixed in
//! and left unlabelled. Everything is in memory; the caller writes files and the database.

use serde::{Deserialize, Serialize};

use crate::Kind;
use crate::regions::PREFECTURES;
use crate::validate;

/// What to generate.
#[derive(Debug, Clone)]
pub struct CorpusConfig {
    /// Seed of the deterministic generator: the same seed gives the same corpus.
    pub seed: u64,
    /// Approximate size of the text documents in bytes.
    pub target_bytes: usize,
    /// Rows in the SQLite users table.
    pub table_rows: usize,
}

impl Default for CorpusConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            target_bytes: 8 << 20,
            table_rows: 2000,
        }
    }
}

/// One ground-truth value (the same shape as a scan finding, plus `locator` for table cells).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// File path relative to the corpus root (`users.db` for the table).
    pub path: String,
    /// `table/rowid/column` for database cells, absent for files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locator: Option<String>,
    /// Byte offset in the file or cell.
    pub offset: usize,
    /// Length in bytes.
    pub length: usize,
    /// Stable kind name.
    pub kind: Kind,
}

/// A text document of the corpus.
#[derive(Debug, Clone)]
pub struct Document {
    /// Path relative to the corpus root, e.g. `logs/app-003.log`.
    pub path: String,
    /// The bytes of the file.
    pub body: Vec<u8>,
}

/// A table to store in SQLite: `rowid` and text columns.
#[derive(Debug, Clone)]
pub struct Table {
    /// Database file name relative to the corpus root.
    pub path: String,
    /// Table name.
    pub name: String,
    /// Column names (all TEXT).
    pub columns: Vec<String>,
    /// Rows: rowid and one value per column.
    pub rows: Vec<(i64, Vec<String>)>,
}

/// The generated corpus with its labels.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// Text files.
    pub documents: Vec<Document>,
    /// The database table.
    pub table: Table,
    /// Every personal value, in files and in cells.
    pub labels: Vec<Label>,
}

/// SplitMix64: tiny, deterministic across platforms and crate versions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + (self.next() % u64::from(hi - lo + 1)) as u32
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

/// Personal values, each in its plain ASCII form.
struct Values<'r> {
    rng: &'r mut Rng,
}

const SEGMENTS: &[&str] = &[
    "130", "131", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "156",
    "157", "158", "159", "166", "170", "176", "177", "180", "181", "182", "185", "186", "187",
    "188", "189", "191", "195", "198", "199",
];

impl Values<'_> {
    fn region(&mut self) -> String {
        let p = self.rng.pick(&PREFECTURES[..]);
        format!("{p:04}{:02}", self.rng.range(1, 28))
    }

    fn date(&mut self) -> String {
        let y = self.rng.range(1950, 2012);
        let m = self.rng.range(1, 12);
        let d = self.rng.range(1, 28);
        format!("{y:04}{m:02}{d:02}")
    }

    fn resident_id(&mut self) -> String {
        let body = format!("{}{}{}", self.region(), self.date(), self.rng.digits(3));
        let check = validate::resident_id_check_char(body.as_bytes()).unwrap_or(b'0');
        format!("{body}{}", char::from(check))
    }

    /// Same shape, but one of: wrong check digit, impossible date, unknown region.
    fn bad_resident_id(&mut self) -> String {
        loop {
            let mut v = self.resident_id().into_bytes();
            match self.rng.below(3) {
                0 => v[17] = if v[17] == b'1' { b'2' } else { b'1' },
                1 => {
                    let bad: &[&[u8]] = &[b"0230", b"1301", b"0431", b"0000", b"0932"];
                    let b = *self.rng.pick::<&[u8]>(bad);
                    v[10..14].copy_from_slice(b);
                    let check = validate::resident_id_check_char(&v[..17]).unwrap_or(b'0');
                    v[17] = check;
                }
                _ => {
                    let bad: &[&[u8]] = &[
                        b"00", b"19", b"29", b"39", b"49", b"55", b"68", b"77", b"90", b"99",
                    ];
                    let b = *self.rng.pick::<&[u8]>(bad);
                    v[..2].copy_from_slice(b);
                    let check = validate::resident_id_check_char(&v[..17]).unwrap_or(b'0');
                    v[17] = check;
                }
            }
            if !validate::resident_id(&v, 2100) {
                return String::from_utf8(v).unwrap_or_default();
            }
        }
    }

    fn mobile(&mut self) -> String {
        format!("{}{}", self.rng.pick(SEGMENTS), self.rng.digits(8))
    }

    fn bad_mobile(&mut self) -> String {
        let segs = [
            "120", "121", "127", "140", "154", "160", "164", "169", "179", "194", "100", "110",
        ];
        format!("{}{}", self.rng.pick(&segs), self.rng.digits(8))
    }

    fn card_with(&mut self, valid: bool) -> String {
        let (prefix, len): (String, usize) = match self.rng.below(6) {
            0 | 1 => (
                format!(
                    "62{}",
                    self.rng
                        .pick(&["2202", "2848", "1700", "2588", "1483", "2700"])
                ),
                *self.rng.pick(&[16, 19, 19, 17, 18]),
            ),
            2 => ("4".to_string(), *self.rng.pick(&[16, 16, 19])),
            3 => (format!("5{}", self.rng.range(1, 5)), 16),
            4 => (format!("35{}", self.rng.range(28, 89)), 16),
            _ => ("6011".to_string(), 16),
        };
        let mut body = format!("{prefix}{}", self.rng.digits(len - 1 - prefix.len()));
        for d in b'0'..=b'9' {
            body.push(char::from(d));
            if validate::luhn(body.as_bytes()) == valid {
                return body;
            }
            body.pop();
        }
        body
    }

    fn card(&mut self) -> String {
        self.card_with(true)
    }

    /// Luhn-invalid, or Luhn-valid with a prefix no issuer uses.
    fn bad_card(&mut self) -> String {
        if self.rng.chance(0.6) {
            self.card_with(false)
        } else {
            let mut body = format!(
                "{}{}",
                self.rng.pick(&["1", "7", "8", "30", "00"]),
                self.rng.digits(14)
            );
            for d in b'0'..=b'9' {
                body.push(char::from(d));
                if validate::luhn(body.as_bytes()) {
                    return body;
                }
                body.pop();
            }
            body
        }
    }

    fn email(&mut self) -> String {
        let names = [
            "zhangsan",
            "li.si",
            "wang_wu",
            "chen.jing",
            "liuyang",
            "alice",
            "bob.smith",
            "j.doe",
            "mary-ann",
            "zhao88",
            "sun_li",
            "huang.lei",
        ];
        let domains = [
            "163.com",
            "qq.com",
            "126.com",
            "gmail.com",
            "example.com",
            "corp.example.cn",
            "sina.com.cn",
            "outlook.com",
            "foxmail.com",
            "yeah.net",
        ];
        let name = if self.rng.chance(0.2) {
            let len = self.rng.range(6, 10) as usize;
            self.rng.digits(len)
        } else {
            format!(
                "{}{}",
                self.rng.pick(&names),
                if self.rng.chance(0.5) {
                    self.rng.digits(2)
                } else {
                    String::new()
                }
            )
        };
        format!("{name}@{}", self.rng.pick(&domains))
    }

    fn uscc_with(&mut self, valid: bool) -> String {
        const ALPHA: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
        let dept = *self
            .rng
            .pick(&["91", "92", "93", "11", "12", "51", "52", "53", "Y1"]);
        let region = format!(
            "{:04}{:02}",
            self.rng.pick(&PREFECTURES[..]),
            self.rng.range(0, 20)
        );
        let org: String = (0..9).map(|_| char::from(*self.rng.pick(ALPHA))).collect();
        let body = format!("{dept}{region}{org}");
        let check = validate::uscc_check_char(body.as_bytes()).unwrap_or(b'0');
        let check = if valid {
            check
        } else {
            ALPHA[(ALPHA.iter().position(|&c| c == check).unwrap_or(0) + 1 + self.rng.below(29))
                % 31]
        };
        format!("{body}{}", char::from(check))
    }

    fn passport(&mut self) -> String {
        if self.rng.chance(0.7) {
            format!("E{}", self.rng.digits(8))
        } else {
            let l = *self.rng.pick(b"ABCDEFGHJKLMN");
            format!("E{}{}", char::from(l), self.rng.digits(7))
        }
    }

    fn ipv4(&mut self) -> String {
        let first = *self.rng.pick(&[
            1u32, 8, 14, 36, 42, 58, 101, 110, 114, 117, 119, 120, 183, 192, 203, 211, 222,
        ]);
        format!(
            "{first}.{}.{}.{}",
            self.rng.range(0, 255),
            self.rng.range(0, 255),
            self.rng.range(1, 254)
        )
    }

    fn ipv6(&mut self) -> String {
        let head = *self.rng.pick(&[
            "2001:db8",
            "240e:3b7",
            "2408:8207",
            "fe80:0",
            "2409:8a00",
            "2400:cb00",
        ]);
        let groups: Vec<String> = (0..4)
            .map(|_| format!("{:x}", self.rng.range(1, 0xffff)))
            .collect();
        if self.rng.chance(0.5) {
            format!(
                "{head}::{}",
                groups[..self.rng.range(2, 4) as usize].join(":")
            )
        } else {
            format!(
                "{head}:{}:{}:{}:{}:{}:{}",
                self.rng.range(0, 0xfff),
                self.rng.range(0, 0xfff),
                groups[0],
                groups[1],
                groups[2],
                groups[3]
            )
        }
    }

    fn value(&mut self, kind: Kind) -> String {
        match kind {
            Kind::CnResidentId => self.resident_id(),
            Kind::CnMobile => self.mobile(),
            Kind::BankCard => self.card(),
            Kind::Email => self.email(),
            Kind::CnUscc => self.uscc_with(true),
            Kind::Passport => self.passport(),
            Kind::IpAddress => {
                if self.rng.chance(0.7) {
                    self.ipv4()
                } else {
                    self.ipv6()
                }
            }
        }
    }

    /// A hard negative: looks like personal data, is not.
    fn negative(&mut self) -> String {
        match self.rng.below(16) {
            0 | 1 => self.bad_resident_id(),
            2 => self.bad_mobile(),
            3 | 4 => self.bad_card(),
            5 => self.uscc_with(false),
            6 => format!("ORD-{}", self.mobile()),
            7 => format!(
                "{}{:02}{:02}{}",
                self.rng.range(2019, 2026),
                self.rng.range(1, 12),
                self.rng.range(1, 28),
                self.rng.digits(10)
            ),
            8 => format!("17{}", self.rng.digits(11)),
            9 => format!("{}", self.rng.range(1_600_000_000, 1_800_000_000)),
            10 => format!(
                "v{}.{}.{}",
                self.rng.range(0, 12),
                self.rng.range(0, 30),
                self.rng.range(0, 200)
            ),
            11 => format!(
                "CN-{}{:02}-{:02}-{:05}",
                self.rng.pick(&["A01", "F12", "R55", "M23"]),
                self.rng.range(0, 99),
                self.rng.range(0, 99),
                self.rng.range(0, 99999)
            ),
            12 => format!(
                "{}.{}.{}.{}.{}",
                self.rng.range(1, 9),
                self.rng.range(0, 9),
                self.rng.range(0, 99),
                self.rng.range(0, 9),
                self.rng.range(0, 9)
            ),
            13 => format!(
                "{}.{}.{}.{}",
                self.rng.range(256, 999),
                self.rng.range(0, 255),
                self.rng.range(0, 255),
                self.rng.range(0, 255)
            ),
            14 => format!("E{}", self.rng.digits(7)),
            _ => format!(
                "{}-{}-{}",
                self.rng.digits(3),
                self.rng.digits(3),
                self.rng.digits(4)
            ),
        }
    }
}

fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(0xFF10 + (c as u32 - '0' as u32)).unwrap_or(c),
            'X' => 'Ｘ',
            _ => c,
        })
        .collect()
}

fn group(s: &str, sizes: &[usize], sep: &str) -> String {
    let mut out = String::new();
    let mut at = 0;
    for (k, &n) in sizes.iter().enumerate() {
        if at >= s.len() {
            break;
        }
        if k > 0 {
            out.push_str(sep);
        }
        let end = if k + 1 == sizes.len() {
            s.len()
        } else {
            (at + n).min(s.len())
        };
        out.push_str(&s[at..end]);
        at = end;
    }
    out
}

/// The written form of a value: separators or full-width digits now and then.
fn render(rng: &mut Rng, kind: Kind, v: &str) -> String {
    let roll = rng.below(10);
    match kind {
        Kind::CnMobile if roll == 0 => group(v, &[3, 4, 4], "-"),
        Kind::CnMobile if roll == 1 => group(v, &[3, 4, 4], " "),
        Kind::CnMobile | Kind::CnResidentId if roll == 2 => full_width(v),
        Kind::CnResidentId if roll == 3 => group(v, &[6, 8, 4], " "),
        Kind::CnResidentId if roll == 4 => v.replace('X', "x"),
        Kind::BankCard if roll < 4 => group(v, &[4, 4, 4, 4, 4], if roll == 0 { "-" } else { " " }),
        _ => v.to_string(),
    }
}

/// Builds one text document, recording labels as values are appended.
struct Writer<'a> {
    path: String,
    body: String,
    labels: &'a mut Vec<Label>,
}

impl Writer<'_> {
    fn text(&mut self, s: &str) {
        self.body.push_str(s);
    }
    fn pii(&mut self, kind: Kind, written: &str) {
        self.labels.push(Label {
            path: self.path.clone(),
            locator: None,
            offset: self.body.len(),
            length: written.len(),
            kind,
        });
        self.body.push_str(written);
    }
}

const NAMES_ZH: &[&str] = &[
    "张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强", "周杰", "吴婷",
];
const NAMES_EN: &[&str] = &[
    "Alice Chen",
    "Bob Smith",
    "Carol Wang",
    "David Li",
    "Eve Zhang",
    "Frank Liu",
];
const LYRICS: &[&str] = &[
    "One, two, three, four, we count the 24 hours to 7 in the morning",
    "Ninety-nine red balloons, 99 times 1999 again",
    "我数着 1 2 3 4 5 6 7 8 9 10 颗星星, 365 天, 24/7",
    "867-5309, Jenny I got your number, 3:16 in the afternoon",
    "Track 12 of 24, 1,000,000 miles, 3.14159265358979 reasons",
    "二零二三年 12 月 31 日 23:59:59 倒数 10 9 8 7 6 5 4 3 2 1",
    "Remix 2.0.1 feat. 50 Cent, catalogue 8 13 21 34 55 89 144 233",
    "BPM 128, 4/4, key of A, 16 bars then 32 bars then 64",
];

/// Generates the corpus for `config`.
#[must_use]
pub fn generate(config: &CorpusConfig) -> Corpus {
    let mut rng = Rng(config.seed ^ 0xC0FF_EE00_D15C_0DE5);
    let mut labels = Vec::new();
    let mut documents = Vec::new();
    let mut total = 0;
    let mut n = 0usize;
    while total < config.target_bytes {
        let (path, body) = match n % 6 {
            0 => log_file(&mut rng, &mut labels, n),
            1 => csv_export(&mut rng, &mut labels, n),
            2 => json_dump(&mut rng, &mut labels, n),
            3 => ticket(&mut rng, &mut labels, n, true),
            4 => ticket(&mut rng, &mut labels, n, false),
            _ => lyrics(&mut rng, &mut labels, n),
        };
        total += body.len();
        documents.push(Document {
            path,
            body: body.into_bytes(),
        });
        n += 1;
    }
    let table = users_table(&mut rng, &mut labels, config.table_rows);
    Corpus {
        documents,
        table,
        labels,
    }
}

fn new_writer(labels: &mut Vec<Label>, path: String) -> Writer<'_> {
    Writer {
        path,
        body: String::new(),
        labels,
    }
}

fn pii(w: &mut Writer<'_>, rng: &mut Rng, kind: Kind) {
    let v = Values { rng }.value(kind);
    let written = render(rng, kind, &v);
    w.pii(kind, &written);
}

fn neg(rng: &mut Rng) -> String {
    Values { rng }.negative()
}

fn log_file(rng: &mut Rng, labels: &mut Vec<Label>, n: usize) -> (String, String) {
    let path = format!("logs/app-{n:04}.log");
    let mut w = new_writer(labels, path.clone());
    for line in 0..400 {
        let ts = format!(
            "2026-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            rng.range(1, 12),
            rng.range(1, 28),
            rng.range(0, 23),
            rng.range(0, 59),
            rng.range(0, 59),
            rng.range(0, 999)
        );
        w.text(&ts);
        match rng.below(8) {
            0 => {
                w.text(" INFO login ok user=");
                w.text(&rng.digits(6));
                w.text(" client_ip=");
                pii(&mut w, rng, Kind::IpAddress);
                w.text(&format!(" took {}ms\n", rng.range(1, 900)));
            }
            1 => {
                w.text(" INFO sms sent phone=");
                pii(&mut w, rng, Kind::CnMobile);
                w.text(&format!(
                    " request_id={} elapsed={}ms\n",
                    rng.digits(16),
                    rng.range(1, 99)
                ));
            }
            2 => {
                w.text(" WARN payment declined card=");
                pii(&mut w, rng, Kind::BankCard);
                w.text(&format!(
                    " order_id={} amount={}.{:02}\n",
                    neg(rng),
                    rng.range(1, 9999),
                    rng.range(0, 99)
                ));
            }
            3 => {
                w.text(" DEBUG kyc check 身份证号:");
                pii(&mut w, rng, Kind::CnResidentId);
                w.text(" result=pass\n");
            }
            4 => {
                w.text(&format!(
                    " INFO build {} started, trace={} ts={}\n",
                    neg(rng),
                    neg(rng),
                    neg(rng)
                ));
            }
            5 => {
                w.text(" INFO mail queued to=");
                pii(&mut w, rng, Kind::Email);
                w.text(&format!(" size={} bytes\n", rng.range(100, 99999)));
            }
            6 => {
                w.text(&format!(
                    " ERROR upstream timeout after {} ms, retry {} of 3, job {}\n",
                    rng.range(100, 30000),
                    rng.range(1, 3),
                    neg(rng)
                ));
            }
            _ => {
                w.text(&format!(
                    " INFO track play isrc={} position={}s listeners={}\n",
                    neg(rng),
                    rng.range(0, 400),
                    rng.range(1, 100000)
                ));
            }
        }
        if line % 97 == 0 {
            w.text(&format!("  cause: invalid value {}\n", neg(rng)));
        }
    }
    (path, w.body)
}

fn csv_export(rng: &mut Rng, labels: &mut Vec<Label>, n: usize) -> (String, String) {
    let path = format!("exports/customers-{n:04}.csv");
    let mut w = new_writer(labels, path.clone());
    w.text("customer_id,name,mobile,email,id_number,card_no,company_uscc,order_no,created_at\n");
    for _ in 0..300 {
        w.text(&format!("{},{},", rng.digits(8), rng.pick(NAMES_ZH)));
        pii(&mut w, rng, Kind::CnMobile);
        w.text(",");
        pii(&mut w, rng, Kind::Email);
        w.text(",");
        if rng.chance(0.7) {
            pii(&mut w, rng, Kind::CnResidentId);
        } else {
            w.text(&neg(rng));
        }
        w.text(",");
        if rng.chance(0.5) {
            pii(&mut w, rng, Kind::BankCard);
        }
        w.text(",");
        if rng.chance(0.3) {
            pii(&mut w, rng, Kind::CnUscc);
        }
        w.text(&format!(
            ",{},{}\n",
            neg(rng),
            rng.range(1_600_000_000, 1_800_000_000)
        ));
    }
    (path, w.body)
}

fn json_dump(rng: &mut Rng, labels: &mut Vec<Label>, n: usize) -> (String, String) {
    let path = format!("dumps/orders-{n:04}.json");
    let mut w = new_writer(labels, path.clone());
    w.text("[\n");
    for k in 0..250 {
        if k > 0 {
            w.text(",\n");
        }
        w.text(&format!("  {{\"order_id\": \"{}\", \"sku\": \"{}\", \"customer\": {{\"name\": \"{}\", \"phone\": \"", rng.digits(18), neg(rng), rng.pick(NAMES_EN)));
        pii(&mut w, rng, Kind::CnMobile);
        w.text("\", \"email\": \"");
        pii(&mut w, rng, Kind::Email);
        w.text("\", \"passport\": \"");
        pii(&mut w, rng, Kind::Passport);
        w.text("\"}, \"ip\": \"");
        pii(&mut w, rng, Kind::IpAddress);
        w.text(&format!(
            "\", \"created\": {}, \"version\": \"{}\", \"amount\": {}.{:02}}}",
            rng.range(1_600_000_000, 1_800_000_000),
            neg(rng),
            rng.range(1, 5000),
            rng.range(0, 99)
        ));
    }
    w.text("\n]\n");
    (path, w.body)
}

fn ticket(rng: &mut Rng, labels: &mut Vec<Label>, n: usize, chinese: bool) -> (String, String) {
    let path = format!("tickets/{}-{n:04}.txt", if chinese { "zh" } else { "en" });
    let mut w = new_writer(labels, path.clone());
    for _ in 0..60 {
        if chinese {
            w.text(&format!(
                "工单 #{}：用户{}反馈无法登录，",
                rng.digits(7),
                rng.pick(NAMES_ZH)
            ));
            match rng.below(6) {
                0 => {
                    w.text("联系手机");
                    pii(&mut w, rng, Kind::CnMobile);
                    w.text("，请回电。");
                }
                1 => {
                    w.text("实名认证身份证");
                    pii(&mut w, rng, Kind::CnResidentId);
                    w.text("审核失败。");
                }
                2 => {
                    w.text("退款到银行卡");
                    pii(&mut w, rng, Kind::BankCard);
                    w.text(&format!("，订单号{}。", neg(rng)));
                }
                3 => {
                    w.text("公司统一社会信用代码");
                    pii(&mut w, rng, Kind::CnUscc);
                    w.text("，需开发票。");
                }
                4 => {
                    w.text("护照号码");
                    pii(&mut w, rng, Kind::Passport);
                    w.text(&format!("，航班于{}起飞。", neg(rng)));
                }
                _ => {
                    w.text("邮箱");
                    pii(&mut w, rng, Kind::Email);
                    w.text(&format!("收不到验证码，版本{}。", neg(rng)));
                }
            }
            w.text("\n");
        } else {
            w.text(&format!(
                "Ticket {} from {}: ",
                rng.digits(6),
                rng.pick(NAMES_EN)
            ));
            match rng.below(5) {
                0 => {
                    w.text("please call me back at ");
                    pii(&mut w, rng, Kind::CnMobile);
                    w.text(&format!(" about invoice {}.", neg(rng)));
                }
                1 => {
                    w.text("my card ");
                    pii(&mut w, rng, Kind::BankCard);
                    w.text(&format!(" was charged twice for order {}.", neg(rng)));
                }
                2 => {
                    w.text("reply to ");
                    pii(&mut w, rng, Kind::Email);
                    w.text(&format!(", app version {} crashes.", neg(rng)));
                }
                3 => {
                    w.text("login blocked from ");
                    pii(&mut w, rng, Kind::IpAddress);
                    w.text(&format!(" at {}.", neg(rng)));
                }
                _ => {
                    w.text("passport number ");
                    pii(&mut w, rng, Kind::Passport);
                    w.text(&format!(" for the tour, booking ref {}.", neg(rng)));
                }
            }
            w.text("\n");
        }
    }
    (path, w.body)
}

fn lyrics(rng: &mut Rng, labels: &mut Vec<Label>, n: usize) -> (String, String) {
    let path = format!("lyrics/song-{n:04}.lrc");
    let mut w = new_writer(labels, path.clone());
    for k in 0..120 {
        w.text(&format!(
            "[{:02}:{:02}.{:02}]{}",
            k / 20,
            (k * 3) % 60,
            rng.range(0, 99),
            rng.pick(LYRICS)
        ));
        if rng.chance(0.2) {
            w.text(&format!(" {}", neg(rng)));
        }
        w.text("\n");
    }
    (path, w.body)
}

fn users_table(rng: &mut Rng, labels: &mut Vec<Label>, rows: usize) -> Table {
    let columns = ["name", "mobile", "email", "id_number", "note"]
        .map(String::from)
        .to_vec();
    let mut out = Vec::with_capacity(rows);
    for r in 0..rows {
        let rowid = r as i64 + 1;
        let mut cells = vec![rng.pick(NAMES_ZH).to_string()];
        for (col, kind) in [
            ("mobile", Kind::CnMobile),
            ("email", Kind::Email),
            ("id_number", Kind::CnResidentId),
        ] {
            let v = Values { rng }.value(kind);
            let written = render(rng, kind, &v);
            labels.push(Label {
                path: "users.db".into(),
                locator: Some(format!("users/{rowid}/{col}")),
                offset: 0,
                length: written.len(),
                kind,
            });
            cells.push(written);
        }
        let mut note = String::from("VIP, last order ");
        note.push_str(&neg(rng));
        if rng.chance(0.3) {
            note.push_str(", backup phone ");
            let v = Values { rng }.value(Kind::CnMobile);
            labels.push(Label {
                path: "users.db".into(),
                locator: Some(format!("users/{rowid}/note")),
                offset: note.len(),
                length: v.len(),
                kind: Kind::CnMobile,
            });
            note.push_str(&v);
        }
        cells.push(note);
        out.push((rowid, cells));
    }
    Table {
        path: "users.db".into(),
        name: "users".into(),
        columns,
        rows: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_labels_point_at_values() {
        let cfg = CorpusConfig {
            seed: 7,
            target_bytes: 200_000,
            table_rows: 50,
        };
        let a = generate(&cfg);
        let b = generate(&cfg);
        assert_eq!(a.labels, b.labels);
        for l in a.labels.iter().filter(|l| l.locator.is_none()) {
            let doc = a.documents.iter().find(|d| d.path == l.path).unwrap();
            let v = &doc.body[l.offset..l.offset + l.length];
            assert!(
                std::str::from_utf8(v).is_ok(),
                "label cuts a character: {l:?}"
            );
        }
        for k in Kind::ALL {
            assert!(a.labels.iter().any(|l| l.kind == k), "no {k} in corpus");
        }
    }
}
