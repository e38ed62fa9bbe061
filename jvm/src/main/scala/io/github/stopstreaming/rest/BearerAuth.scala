package io.github.stopstreaming.rest

import java.nio.charset.StandardCharsets.UTF_8
import java.security.MessageDigest

import io.github.stopstreaming.core.Secrets

/** Checks `Authorization: Bearer <token>`. Both sides are hashed before the constant-time comparison, so neither the
  * content nor the length of the token leaks through timing.
  */
final class BearerAuth(token: Option[String]) {
  private val expected: Option[Array[Byte]] = token.map(digest)

  private def digest(s: String): Array[Byte] = MessageDigest.getInstance("SHA-256").digest(s.getBytes(UTF_8))

  /** Whether requests must carry the token (a request past [[check]] then did). */
  def required: Boolean = expected.isDefined

  /** Throws a 401 unless the header carries the configured token (or no token is configured). */
  def check(header: Option[String]): Unit = expected.foreach { want =>
    val presented = Secrets.bearerToken(header)
    val ok = presented.exists(g => MessageDigest.isEqual(digest(g), want))
    if (!ok) {
      val why = if (header.isEmpty) "missing bearer token" else "invalid bearer token"
      throw HttpError(401, why, Seq("WWW-Authenticate" -> "Bearer realm=\"stopstreaming\""))
    }
  }
}
