//! The code snippets of the dashboard's Snippets page and of `GET …/snippets`: server-side
//! signing code per language and the identify call the widget makes on each platform, filled in
//! with a workspace's app id, primary `kid` and the token shape of its profile.
//!
//! One pure place makes the text, so the page, the API and the tests that run the snippets
//! agree. The secret is never part of a snippet: server code reads it from [`SECRET_ENV`].
//! Every workspace value is written as an escaped string literal of the target language, so a
//! hostile issuer or claim name cannot turn into code.

use serde::{Deserialize, Serialize};

use crate::profile::{IssuerRule, TokenProfile};

/// The environment variable every server-side snippet reads the workspace secret from.
pub const SECRET_ENV: &str = "COUNTERSIGN_SECRET";
/// Lifetime of the snippets' tokens, unless the workspace allows less.
pub const DEFAULT_LIFETIME_SECONDS: i64 = 3600;
/// The example user the snippets sign for (its id is a number in the dynamic languages, to
/// show the conversion to the string the contract requires).
pub const EXAMPLE_USER_ID: &str = "42";
/// The example user's email.
pub const EXAMPLE_EMAIL: &str = "ada@example.com";
/// The example user's name.
pub const EXAMPLE_NAME: &str = "Ada Lovelace";

/// What the snippets are filled in with: the facts of one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnippetContext {
    /// The workspace's public app id.
    pub app_id: String,
    /// The primary key's id, put in the token header; `None` when the workspace has no primary.
    pub kid: Option<String>,
    /// How the workspace reads tokens.
    pub token_profile: TokenProfile,
    /// The `custom` profile's user id claims.
    pub user_id_claims: Vec<String>,
    /// The issuer a token must name: the expected issuer, or the app id.
    pub issuer: String,
    /// Seconds from `iat` to `exp` in the snippets' tokens.
    pub lifetime_seconds: i64,
    /// Where the widget sends the token: the deployment's `/api/v1/identify`.
    pub identify_url: String,
}

impl SnippetContext {
    /// The context of a workspace: `expected_issuer` falls back to the app id, and the lifetime
    /// is an hour or the workspace's maximum, whichever is shorter.
    pub fn new(
        app_id: &str,
        kid: Option<&str>,
        token_profile: TokenProfile,
        user_id_claims: &[String],
        expected_issuer: Option<&str>,
        max_token_lifetime_seconds: Option<i64>,
        public_url: &str,
    ) -> SnippetContext {
        let lifetime_seconds = max_token_lifetime_seconds
            .filter(|max| *max > 0)
            .map_or(DEFAULT_LIFETIME_SECONDS, |max| max.min(DEFAULT_LIFETIME_SECONDS));
        SnippetContext {
            app_id: app_id.to_owned(),
            kid: kid.map(str::to_owned),
            token_profile,
            user_id_claims: user_id_claims.to_vec(),
            issuer: expected_issuer.unwrap_or(app_id).to_owned(),
            lifetime_seconds,
            identify_url: format!("{}/api/v1/identify", public_url.trim_end_matches('/')),
        }
    }

    /// The claims a token for this workspace carries besides `iat` and `exp`, in the shape its
    /// profile's vendor documents (PRODUCT.md, "Token profiles").
    pub fn claims(&self) -> Vec<Claim> {
        use ClaimValue::{Email, Name, Text, UserId};
        let claim = |name: &str, value: ClaimValue| Claim { name: name.to_owned(), value };
        let id = self.token_profile.primary_user_id_claim(&self.user_id_claims);
        let mut claims = match self.token_profile {
            // TalkJS's guide signs only the subject, the issuer and the token type.
            TokenProfile::Talkjs => vec![
                claim("sub", UserId),
                claim("iss", Text(self.issuer.clone())),
                claim("tokenType", Text("user".into())),
            ],
            TokenProfile::Fogbender => vec![claim(id, UserId), claim("userEmail", Email), claim("userName", Name)],
            TokenProfile::Countersign | TokenProfile::Intercom | TokenProfile::Featurebase | TokenProfile::Custom => {
                vec![claim(id, UserId), claim("email", Email), claim("name", Name)]
            }
        };
        if self.token_profile.issuer_rule() == IssuerRule::Required && !claims.iter().any(|c| c.name == "iss") {
            claims.push(claim("iss", Text(self.issuer.clone())));
        }
        // A custom user id claim named like an attribute carries the id only.
        let mut seen = Vec::new();
        claims.retain(|c| {
            let first = !seen.contains(&c.name);
            seen.push(c.name.clone());
            first
        });
        claims
    }
}

/// One claim of the snippets' tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub name: String,
    pub value: ClaimValue,
}

/// Where a claim's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimValue {
    /// The signed-in user's id, as a string.
    UserId,
    /// The user's email.
    Email,
    /// The user's display name.
    Name,
    /// A fixed text of the workspace (the issuer, TalkJS's token type).
    Text(String),
}

/// One snippet: a language, the library it uses and how to install it, and the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snippet {
    /// A stable id (`node`, `python`, ..., `web`, `ios`, `android`).
    pub id: String,
    /// The language or platform, for people.
    pub language: String,
    /// The library the code uses.
    pub library: String,
    /// The command (or manifest line) that installs it.
    pub install: String,
    /// The code, ready to paste.
    pub code: String,
}

/// Every snippet of a workspace: how its backend signs a token, and how the widget sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snippets {
    pub context: SnippetContext,
    /// Node, Python, Ruby, PHP, Go, Java, C#, Rust.
    pub server: Vec<Snippet>,
    /// Web, iOS (Swift), Android (Kotlin).
    pub widget: Vec<Snippet>,
}

/// The snippets for `context`.
pub fn snippets(context: &SnippetContext) -> Snippets {
    let token = Token::of(context);
    let server = vec![
        snippet("node", "Node.js", "jsonwebtoken", "npm install jsonwebtoken", node(&token)),
        snippet("python", "Python", "PyJWT", "pip install PyJWT", python(&token)),
        snippet("ruby", "Ruby", "jwt", "gem install jwt", ruby(&token)),
        snippet("php", "PHP", "firebase/php-jwt", "composer require firebase/php-jwt", php(&token)),
        snippet("go", "Go", "golang-jwt/jwt v5", "go get github.com/golang-jwt/jwt/v5", go(&token)),
        snippet("java", "Java", "jjwt 0.12", "io.jsonwebtoken:jjwt-api, jjwt-impl and jjwt-jackson 0.12", java(&token)),
        snippet(
            "csharp",
            "C#",
            "Microsoft.IdentityModel.JsonWebTokens",
            "dotnet add package Microsoft.IdentityModel.JsonWebTokens",
            csharp(&token),
        ),
        snippet("rust", "Rust", "jsonwebtoken 9", "cargo add jsonwebtoken@9 serde_json", rust(&token)),
    ];
    let widget = vec![
        snippet("web", "Web", "fetch", "nothing to install", web(context)),
        snippet("ios", "iOS (Swift)", "URLSession", "nothing to install", ios(context)),
        snippet(
            "android",
            "Android (Kotlin)",
            "HttpURLConnection and org.json",
            "nothing to install",
            android(context),
        ),
    ];
    Snippets { context: context.clone(), server, widget }
}

fn snippet(id: &str, language: &str, library: &str, install: &str, code: String) -> Snippet {
    Snippet { id: id.into(), language: language.into(), library: library.into(), install: install.into(), code }
}

/// What every server snippet signs: claims, header `kid`, lifetime, and which of the user's
/// fields it reads (so typed languages take only those parameters).
struct Token<'c> {
    claims: Vec<Claim>,
    kid: Option<&'c str>,
    lifetime: i64,
    uses_email: bool,
    uses_name: bool,
}

impl<'c> Token<'c> {
    fn of(context: &'c SnippetContext) -> Token<'c> {
        let claims = context.claims();
        let uses = |v: ClaimValue| claims.iter().any(|c| c.value == v);
        let (uses_email, uses_name) = (uses(ClaimValue::Email), uses(ClaimValue::Name));
        Token { claims, kid: context.kid.as_deref(), lifetime: context.lifetime_seconds, uses_email, uses_name }
    }

    /// The typed languages' parameters and the example call's arguments, in order.
    fn params(&self) -> Vec<(&'static str, &'static str)> {
        let mut params = vec![("id", EXAMPLE_USER_ID)];
        if self.uses_email {
            params.push(("email", EXAMPLE_EMAIL));
        }
        if self.uses_name {
            params.push(("name", EXAMPLE_NAME));
        }
        params
    }

    /// A claim value as an expression: `user` fields for the dynamic languages (`field`), the
    /// parameters for the typed ones, and a quoted literal for fixed text.
    fn value(
        &self,
        value: &ClaimValue,
        field: impl Fn(&str) -> String,
        id: &str,
        quote: impl Fn(&str) -> String,
    ) -> String {
        match value {
            ClaimValue::UserId => id.to_owned(),
            ClaimValue::Email => field("email"),
            ClaimValue::Name => field("name"),
            ClaimValue::Text(text) => quote(text),
        }
    }
}

/// How a language writes a double-quoted string literal.
#[derive(Clone, Copy, Default)]
struct Quote {
    /// `$` starts an interpolation (Kotlin, PHP).
    dollar: bool,
    /// `#{` starts an interpolation (Ruby).
    hash: bool,
    /// Unicode escapes are `\u{…}` (Swift, Rust, Ruby, PHP), not `\uXXXX`.
    braces: bool,
}

/// `text` as a double-quoted string literal under `q`'s rules.
fn quote_with(text: &str, q: Quote) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' if q.dollar => out.push_str("\\$"),
            '#' if q.hash => out.push_str("\\#"),
            c if c.is_control() && q.braces => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c if c.is_control() => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A literal for JavaScript, Python, Go, Java and C# (which share JSON's escapes).
fn q(text: &str) -> String {
    quote_with(text, Quote::default())
}

/// Whether `name` can be written bare as a JavaScript object key.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// The header `kid` of the snippets, as a comment when the workspace has no primary key.
const NO_PRIMARY: &str = "This workspace has no primary key: rotate on the Keys page, then copy this again.";

fn node(t: &Token) -> String {
    let claims: String = t
        .claims
        .iter()
        .map(|c| {
            let key = if is_identifier(&c.name) { c.name.clone() } else { q(&c.name) };
            let value = t.value(&c.value, |f| format!("user.{f}"), "String(user.id)", q);
            format!("      {key}: {value},\n")
        })
        .collect();
    let kid = t.kid.map(|kid| format!("keyid: {}, ", q(kid))).unwrap_or_default();
    let warning = if t.kid.is_none() { format!("// {NO_PRIMARY}\n") } else { String::new() };
    format!(
        "// npm install jsonwebtoken\n\
         const jwt = require('jsonwebtoken');\n\
         {warning}\n\
         // Signs a Countersign token for one signed-in user. Run it on your server only: the\n\
         // secret comes from the environment and never reaches a browser or an app.\n\
         function countersignToken(user) {{\n\
         \x20 return jwt.sign(\n\
         \x20   {{\n\
         {claims}\
         \x20   }},\n\
         \x20   process.env.{SECRET_ENV},\n\
         \x20   {{ algorithm: 'HS256', {kid}expiresIn: {lifetime} }},\n\
         \x20 );\n\
         }}\n\
         \n\
         console.log(countersignToken({{ id: {EXAMPLE_USER_ID}, email: '{EXAMPLE_EMAIL}', name: '{EXAMPLE_NAME}' }}));\n",
        lifetime = t.lifetime,
    )
}

fn python(t: &Token) -> String {
    let claims: String = t
        .claims
        .iter()
        .map(|c| {
            format!(
                "        {}: {},\n",
                q(&c.name),
                t.value(&c.value, |f| format!("user[\"{f}\"]"), "str(user[\"id\"])", q)
            )
        })
        .collect();
    let headers = t.kid.map(|kid| format!(", headers={{\"kid\": {}}}", q(kid))).unwrap_or_default();
    let warning = if t.kid.is_none() { format!("# {NO_PRIMARY}\n") } else { String::new() };
    format!(
        "# pip install PyJWT\n\
         import os\n\
         import time\n\
         \n\
         import jwt\n\
         {warning}\n\
         \n\
         def countersign_token(user):\n\
         \x20   \"\"\"Signs a Countersign token for one signed-in user (on your server only).\"\"\"\n\
         \x20   now = int(time.time())\n\
         \x20   claims = {{\n\
         {claims}\
         \x20       \"iat\": now,\n\
         \x20       \"exp\": now + {lifetime},\n\
         \x20   }}\n\
         \x20   return jwt.encode(claims, os.environ[\"{SECRET_ENV}\"], algorithm=\"HS256\"{headers})\n\
         \n\
         \n\
         print(countersign_token({{\"id\": {EXAMPLE_USER_ID}, \"email\": \"{EXAMPLE_EMAIL}\", \"name\": \"{EXAMPLE_NAME}\"}}))\n",
        lifetime = t.lifetime,
    )
}

fn ruby(t: &Token) -> String {
    let rq = |s: &str| quote_with(s, Quote { hash: true, braces: true, ..Quote::default() });
    let claims: String = t
        .claims
        .iter()
        .map(|c| {
            format!("    {} => {},\n", rq(&c.name), t.value(&c.value, |f| format!("user[:{f}]"), "user[:id].to_s", rq))
        })
        .collect();
    let header = t.kid.map(|kid| format!(", {{ kid: {} }}", rq(kid))).unwrap_or_default();
    let warning = if t.kid.is_none() { format!("# {NO_PRIMARY}\n") } else { String::new() };
    format!(
        "# gem install jwt\n\
         require \"jwt\"\n\
         {warning}\n\
         # Signs a Countersign token for one signed-in user (on your server only).\n\
         def countersign_token(user)\n\
         \x20 now = Time.now.to_i\n\
         \x20 claims = {{\n\
         {claims}\
         \x20   \"iat\" => now,\n\
         \x20   \"exp\" => now + {lifetime}\n\
         \x20 }}\n\
         \x20 JWT.encode(claims, ENV.fetch(\"{SECRET_ENV}\"), \"HS256\"{header})\n\
         end\n\
         \n\
         puts countersign_token(id: {EXAMPLE_USER_ID}, email: \"{EXAMPLE_EMAIL}\", name: \"{EXAMPLE_NAME}\")\n",
        lifetime = t.lifetime,
    )
}

fn php(t: &Token) -> String {
    let pq = |s: &str| quote_with(s, Quote { dollar: true, braces: true, ..Quote::default() });
    let claims: String = t
        .claims
        .iter()
        .map(|c| {
            format!(
                "        {} => {},\n",
                pq(&c.name),
                t.value(&c.value, |f| format!("$user['{f}']"), "(string) $user['id']", pq)
            )
        })
        .collect();
    let kid = t.kid.map(|kid| format!(", {}", pq(kid))).unwrap_or_default();
    let warning = if t.kid.is_none() { format!("// {NO_PRIMARY}\n") } else { String::new() };
    format!(
        "<?php\n\
         // composer require firebase/php-jwt\n\
         require __DIR__ . '/vendor/autoload.php';\n\
         \n\
         use Firebase\\JWT\\JWT;\n\
         {warning}\n\
         // Signs a Countersign token for one signed-in user (on your server only).\n\
         function countersign_token(array $user): string\n\
         {{\n\
         \x20   $now = time();\n\
         \x20   $claims = [\n\
         {claims}\
         \x20       'iat' => $now,\n\
         \x20       'exp' => $now + {lifetime},\n\
         \x20   ];\n\
         \x20   return JWT::encode($claims, getenv('{SECRET_ENV}'), 'HS256'{kid});\n\
         }}\n\
         \n\
         echo countersign_token(['id' => {EXAMPLE_USER_ID}, 'email' => '{EXAMPLE_EMAIL}', 'name' => '{EXAMPLE_NAME}']), PHP_EOL;\n",
        lifetime = t.lifetime,
    )
}

fn go(t: &Token) -> String {
    let mut entries: Vec<(String, String)> =
        t.claims.iter().map(|c| (format!("{}:", q(&c.name)), t.value(&c.value, str::to_owned, "id", q))).collect();
    entries.push(("\"iat\":".into(), "now.Unix()".into()));
    entries.push(("\"exp\":".into(), format!("now.Add({} * time.Second).Unix()", t.lifetime)));
    // gofmt aligns the values of consecutive key-value lines.
    let width = entries.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    let claims: String = entries.iter().map(|(k, v)| format!("\t\t{k:<width$} {v},\n")).collect();
    let params = t.params();
    let signature = params.iter().map(|(p, _)| *p).collect::<Vec<_>>().join(", ");
    let args = params.iter().map(|(_, a)| q(a)).collect::<Vec<_>>().join(", ");
    let kid = t.kid.map(|kid| format!("\ttoken.Header[\"kid\"] = {}\n", q(kid))).unwrap_or_default();
    let warning = if t.kid.is_none() { format!("\n// {NO_PRIMARY}") } else { String::new() };
    format!(
        "// go get github.com/golang-jwt/jwt/v5\n\
         package main\n\
         \n\
         import (\n\
         \t\"fmt\"\n\
         \t\"os\"\n\
         \t\"time\"\n\
         \n\
         \t\"github.com/golang-jwt/jwt/v5\"\n\
         )\n\
         {warning}\n\
         // countersignToken signs a Countersign token for one signed-in user (on your server only).\n\
         func countersignToken({signature} string) (string, error) {{\n\
         \tnow := time.Now()\n\
         \ttoken := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{{\n\
         {claims}\
         \t}})\n\
         {kid}\
         \treturn token.SignedString([]byte(os.Getenv(\"{SECRET_ENV}\")))\n\
         }}\n\
         \n\
         func main() {{\n\
         \tsigned, err := countersignToken({args})\n\
         \tif err != nil {{\n\
         \t\tpanic(err)\n\
         \t}}\n\
         \tfmt.Println(signed)\n\
         }}\n"
    )
}

fn java(t: &Token) -> String {
    let claims: String = t
        .claims
        .iter()
        .map(|c| format!("            .claim({}, {})\n", q(&c.name), t.value(&c.value, str::to_owned, "id", q)))
        .collect();
    let params = t.params();
    let signature = params.iter().map(|(p, _)| format!("String {p}")).collect::<Vec<_>>().join(", ");
    let args = params.iter().map(|(_, a)| q(a)).collect::<Vec<_>>().join(", ");
    let kid = t.kid.map(|kid| format!("            .header().keyId({}).and()\n", q(kid))).unwrap_or_default();
    let warning = if t.kid.is_none() { format!("// {NO_PRIMARY}\n") } else { String::new() };
    format!(
        "// io.jsonwebtoken:jjwt-api, jjwt-impl and jjwt-jackson 0.12\n\
         import io.jsonwebtoken.Jwts;\n\
         import io.jsonwebtoken.security.Keys;\n\
         import java.nio.charset.StandardCharsets;\n\
         import java.time.Instant;\n\
         import java.util.Date;\n\
         {warning}\n\
         public class CountersignToken {{\n\
         \x20   /** Signs a Countersign token for one signed-in user (on your server only). */\n\
         \x20   static String countersignToken({signature}) {{\n\
         \x20       byte[] secret = System.getenv(\"{SECRET_ENV}\").getBytes(StandardCharsets.UTF_8);\n\
         \x20       Instant now = Instant.now();\n\
         \x20       return Jwts.builder()\n\
         {kid}\
         {claims}\
         \x20           .issuedAt(Date.from(now))\n\
         \x20           .expiration(Date.from(now.plusSeconds({lifetime})))\n\
         \x20           .signWith(Keys.hmacShaKeyFor(secret), Jwts.SIG.HS256)\n\
         \x20           .compact();\n\
         \x20   }}\n\
         \n\
         \x20   public static void main(String[] args) {{\n\
         \x20       System.out.println(countersignToken({args}));\n\
         \x20   }}\n\
         }}\n",
        lifetime = t.lifetime,
    )
}

fn csharp(t: &Token) -> String {
    let claims: String = t
        .claims
        .iter()
        .map(|c| format!("            [{}] = {},\n", q(&c.name), t.value(&c.value, str::to_owned, "id", q)))
        .collect();
    let params = t.params();
    let signature = params.iter().map(|(p, _)| format!("string {p}")).collect::<Vec<_>>().join(", ");
    let args = params.iter().map(|(_, a)| q(a)).collect::<Vec<_>>().join(", ");
    let key = match t.kid {
        Some(kid) => format!("new SymmetricSecurityKey(secret) {{ KeyId = {} }}", q(kid)),
        None => "new SymmetricSecurityKey(secret)".to_owned(),
    };
    let warning = if t.kid.is_none() { format!("// {NO_PRIMARY}\n") } else { String::new() };
    format!(
        "// dotnet add package Microsoft.IdentityModel.JsonWebTokens\n\
         using System.Text;\n\
         using Microsoft.IdentityModel.JsonWebTokens;\n\
         using Microsoft.IdentityModel.Tokens;\n\
         {warning}\n\
         Console.WriteLine(CountersignToken({args}));\n\
         \n\
         // Signs a Countersign token for one signed-in user (on your server only).\n\
         static string CountersignToken({signature})\n\
         {{\n\
         \x20   var secret = Encoding.UTF8.GetBytes(Environment.GetEnvironmentVariable(\"{SECRET_ENV}\")!);\n\
         \x20   var now = DateTime.UtcNow;\n\
         \x20   var token = new SecurityTokenDescriptor\n\
         \x20   {{\n\
         \x20       Claims = new Dictionary<string, object>\n\
         \x20       {{\n\
         {claims}\
         \x20       }},\n\
         \x20       IssuedAt = now,\n\
         \x20       Expires = now.AddSeconds({lifetime}),\n\
         \x20       SigningCredentials = new SigningCredentials({key}, SecurityAlgorithms.HmacSha256),\n\
         \x20   }};\n\
         \x20   return new JsonWebTokenHandler().CreateToken(token);\n\
         }}\n",
        lifetime = t.lifetime,
    )
}

fn rust(t: &Token) -> String {
    let rq = |s: &str| quote_with(s, Quote { braces: true, ..Quote::default() });
    let claims: String = t
        .claims
        .iter()
        .map(|c| format!("        {}: {},\n", rq(&c.name), t.value(&c.value, str::to_owned, "id", rq)))
        .collect();
    let params = t.params();
    let signature = params.iter().map(|(p, _)| format!("{p}: &str")).collect::<Vec<_>>().join(", ");
    let args = params.iter().map(|(_, a)| rq(a)).collect::<Vec<_>>().join(", ");
    let kid = t.kid.map(|kid| format!("    header.kid = Some({}.to_owned());\n", rq(kid))).unwrap_or_default();
    let header = if t.kid.is_some() { "let mut header" } else { "let header" };
    let warning = if t.kid.is_none() { format!("// {NO_PRIMARY}\n") } else { String::new() };
    format!(
        "// cargo add jsonwebtoken@9 serde_json\n\
         use jsonwebtoken::{{encode, Algorithm, EncodingKey, Header}};\n\
         use serde_json::json;\n\
         use std::time::{{SystemTime, UNIX_EPOCH}};\n\
         {warning}\n\
         /// Signs a Countersign token for one signed-in user (on your server only).\n\
         fn countersign_token({signature}) -> Result<String, Box<dyn std::error::Error>> {{\n\
         \x20   let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();\n\
         \x20   let claims = json!({{\n\
         {claims}\
         \x20       \"iat\": now,\n\
         \x20       \"exp\": now + {lifetime},\n\
         \x20   }});\n\
         \x20   {header} = Header::new(Algorithm::HS256);\n\
         {kid}\
         \x20   let secret = std::env::var(\"{SECRET_ENV}\")?;\n\
         \x20   Ok(encode(&header, &claims, &EncodingKey::from_secret(secret.as_bytes()))?)\n\
         }}\n\
         \n\
         fn main() -> Result<(), Box<dyn std::error::Error>> {{\n\
         \x20   println!(\"{{}}\", countersign_token({args})?);\n\
         \x20   Ok(())\n\
         }}\n",
        lifetime = t.lifetime,
    )
}

fn web(c: &SnippetContext) -> String {
    format!(
        "// In the page that boots the messenger, once your backend has signed `userJwt` for the\n\
         // signed-in user. The app ID is public: it is safe in frontend code.\n\
         async function identify(userJwt) {{\n\
         \x20 const reply = await fetch({url}, {{\n\
         \x20   method: 'POST',\n\
         \x20   headers: {{ 'Content-Type': 'application/json' }},\n\
         \x20   body: JSON.stringify({{ app_id: {app_id}, platform: 'web', user_jwt: userJwt }}),\n\
         \x20 }});\n\
         \x20 return reply.json(); // {{ verified, user_id, attributes, ... }}\n\
         }}\n",
        url = q(&c.identify_url),
        app_id = q(&c.app_id),
    )
}

fn ios(c: &SnippetContext) -> String {
    let sq = |s: &str| quote_with(s, Quote { braces: true, ..Quote::default() });
    format!(
        "import Foundation\n\
         \n\
         struct IdentifyRequest: Encodable {{\n\
         \x20   let app_id: String\n\
         \x20   let platform: String\n\
         \x20   let user_jwt: String\n\
         }}\n\
         \n\
         /// Sends the token your backend signed for the signed-in user when the messenger boots.\n\
         func identify(userJwt: String) async throws -> [String: Any] {{\n\
         \x20   var request = URLRequest(url: URL(string: {url})!)\n\
         \x20   request.httpMethod = \"POST\"\n\
         \x20   request.setValue(\"application/json\", forHTTPHeaderField: \"Content-Type\")\n\
         \x20   request.httpBody = try JSONEncoder().encode(\n\
         \x20       IdentifyRequest(app_id: {app_id}, platform: \"ios\", user_jwt: userJwt))\n\
         \x20   let (data, _) = try await URLSession.shared.data(for: request)\n\
         \x20   return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]\n\
         }}\n",
        url = sq(&c.identify_url),
        app_id = sq(&c.app_id),
    )
}

fn android(c: &SnippetContext) -> String {
    let kq = |s: &str| quote_with(s, Quote { dollar: true, ..Quote::default() });
    format!(
        "import java.net.HttpURLConnection\n\
         import java.net.URL\n\
         import org.json.JSONObject\n\
         \n\
         // Sends the token your backend signed for the signed-in user when the messenger boots.\n\
         // Call it off the main thread (e.g. withContext(Dispatchers.IO) {{ ... }}).\n\
         fun identify(userJwt: String): JSONObject {{\n\
         \x20   val body = JSONObject()\n\
         \x20       .put(\"app_id\", {app_id})\n\
         \x20       .put(\"platform\", \"android\")\n\
         \x20       .put(\"user_jwt\", userJwt)\n\
         \x20   val connection = URL({url}).openConnection() as HttpURLConnection\n\
         \x20   connection.requestMethod = \"POST\"\n\
         \x20   connection.setRequestProperty(\"Content-Type\", \"application/json\")\n\
         \x20   connection.doOutput = true\n\
         \x20   connection.outputStream.use {{ it.write(body.toString().toByteArray()) }}\n\
         \x20   val stream = if (connection.responseCode < 400) connection.inputStream else connection.errorStream\n\
         \x20   return JSONObject(stream.bufferedReader().use {{ it.readText() }})\n\
         }}\n",
        url = kq(&c.identify_url),
        app_id = kq(&c.app_id),
    )
}

#[cfg(test)]
mod tests;
