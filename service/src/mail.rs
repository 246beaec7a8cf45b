//! Outgoing email (invitation links), over plain SMTP to a relay the operator runs next to
//! the server (a local Postfix, a sidecar). No TLS and no authentication: the relay is on a
//! trusted network and does the onward delivery. Mail is best effort: a failure is logged and
//! reported to the admin, who still has the link to hand over.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use countersign_core::policy::Role;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use uuid::Uuid;

use crate::Service;

/// Where and as whom mail is sent.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// `host:port` of the relay.
    pub addr: String,
    /// The envelope and `From:` address.
    pub from: String,
}

/// One whole SMTP conversation may take this long.
const TIMEOUT: Duration = Duration::from_secs(10);

impl Service {
    /// Emails an invitation link, if mail is configured; whether it was accepted by the relay.
    pub(crate) async fn email_invitation(
        &self,
        workspace_id: Uuid,
        to: &str,
        inviter: &str,
        role: Role,
        url: &str,
    ) -> bool {
        let Some(smtp) = &self.settings().smtp else { return false };
        let workspace: Result<String, _> = crate::db::query_scalar("SELECT name FROM workspaces WHERE id = $1")
            .bind(workspace_id)
            .fetch_one(&self.pool)
            .await;
        let Ok(workspace) = workspace else { return false };
        let subject = format!("Join {workspace} on Countersign");
        let body = format!(
            "{inviter} invited you to the Countersign workspace \"{workspace}\" as {role}.\n\n\
             Open this link to accept. It works once, for {days} days:\n\n{url}\n\n\
             If you did not expect this, ignore this email.\n",
            role = role.as_str(),
            days = crate::invitations::INVITATION_TTL_DAYS,
        );
        match tokio::time::timeout(TIMEOUT, send(smtp, to, &subject, &body)).await {
            Ok(Ok(())) => true,
            Ok(Err(err)) => {
                tracing::warn!(error = %err, relay = %smtp.addr, "invitation email not sent");
                false
            }
            Err(_) => {
                tracing::warn!(relay = %smtp.addr, "invitation email not sent: the relay timed out");
                false
            }
        }
    }
}

/// Sends one plain-text message. `to` is a normalised email (no spaces or control characters).
async fn send(smtp: &SmtpSettings, to: &str, subject: &str, body: &str) -> Result<(), String> {
    let stream = TcpStream::connect(&smtp.addr).await.map_err(|e| format!("cannot connect: {e}"))?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    reply(&mut read, 220).await?;
    for (command, code) in [
        ("EHLO countersign".to_owned(), 250),
        (format!("MAIL FROM:<{}>", smtp.from), 250),
        (format!("RCPT TO:<{to}>"), 250),
        ("DATA".to_owned(), 354),
    ] {
        write.write_all(format!("{command}\r\n").as_bytes()).await.map_err(|e| e.to_string())?;
        reply(&mut read, code).await?;
    }
    let message = message(&smtp.from, to, subject, body);
    write.write_all(message.as_bytes()).await.map_err(|e| e.to_string())?;
    reply(&mut read, 250).await?;
    write.write_all(b"QUIT\r\n").await.map_err(|e| e.to_string())?;
    Ok(())
}

/// Reads one (possibly multi-line) reply and checks its code.
async fn reply(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, expected: u16) -> Result<(), String> {
    loop {
        let mut line = String::new();
        if read.read_line(&mut line).await.map_err(|e| e.to_string())? == 0 {
            return Err("the relay closed the connection".into());
        }
        let code: u16 = line.get(..3).and_then(|c| c.parse().ok()).ok_or_else(|| format!("bad reply {line:?}"))?;
        if line.as_bytes().get(3) == Some(&b'-') {
            continue;
        }
        // 251 "user not local; will forward" is a success for RCPT too.
        return if code == expected || (expected == 250 && code == 251) {
            Ok(())
        } else {
            Err(format!("relay answered {}", line.trim_end()))
        };
    }
}

/// The message as sent after `DATA`: headers, CRLF line ends, dot-stuffed, ended by `.`.
fn message(from: &str, to: &str, subject: &str, body: &str) -> String {
    let subject =
        if subject.is_ascii() { subject.to_owned() } else { format!("=?utf-8?B?{}?=", STANDARD.encode(subject)) };
    let date = chrono::Utc::now().to_rfc2822();
    let mut out = format!(
        "From: Countersign <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nDate: {date}\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    );
    for line in body.lines() {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines starting with a dot are stuffed, lines end in CRLF, and a non-ASCII subject is
    /// encoded (RFC 5321 4.5.2, RFC 2047).
    #[test]
    fn message_format() {
        let m = message("cs@example.com", "ada@example.com", "Join Café", "hello\n.hidden\nbye");
        assert!(m.contains("Subject: =?utf-8?B?"), "{m}");
        assert!(m.ends_with("\r\n\r\nhello\r\n..hidden\r\nbye\r\n.\r\n"), "{m}");
    }
}
