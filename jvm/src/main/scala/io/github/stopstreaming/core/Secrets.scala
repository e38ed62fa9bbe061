package io.github.stopstreaming.core

import java.nio.charset.StandardCharsets.UTF_8
import java.security.MessageDigest
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec

/** The two uses of the token besides sending it: comparing a presented token with it, and proving that a marker file
  * was written by a driver that holds it.
  */
object Secrets {

  /** Whether `presented` is the `expected` token. Both are hashed first, so the comparison takes the same time whatever
    * their content and length.
    */
  def sameToken(expected: String, presented: String): Boolean =
    MessageDigest.isEqual(sha256(expected), sha256(presented))

  private def sha256(s: String): Array[Byte] = MessageDigest.getInstance("SHA-256").digest(s.getBytes(UTF_8))

  /** The token of an `Authorization: Bearer <token>` header, if it is one. */
  def bearerToken(header: Option[String]): Option[String] =
    header.map(_.trim).collect { case h if h.regionMatches(true, 0, "Bearer ", 0, 7) => h.substring(7).trim }

  /** HMAC-SHA256 of `text` keyed by the token, in lower-case hex. */
  def hmacHex(token: String, text: String): String = {
    val mac = Mac.getInstance("HmacSHA256")
    mac.init(new SecretKeySpec(token.getBytes(UTF_8), "HmacSHA256"))
    mac.doFinal(text.getBytes(UTF_8)).map(b => f"${b & 0xff}%02x").mkString
  }
}
