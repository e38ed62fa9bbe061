package io.github.stopstreaming.rest

import java.io.{ByteArrayOutputStream, InputStream}
import java.nio.charset.{CharacterCodingException, CodingErrorAction, StandardCharsets}
import java.nio.ByteBuffer

/** Strict parsing of the parts of a request that the router looks at. */
object RequestParts {

  /** Splits a raw path into decoded segments. Anything that could smuggle a separator or climb out of a path (`%2F`,
    * `..`, empty segments, control characters) is rejected, not cleaned.
    */
  def segments(rawPath: String): Either[String, Seq[String]] = {
    if (rawPath == null || !rawPath.startsWith("/")) return Left("the path must start with /")
    if (rawPath == "/") return Right(Nil)
    val raw = rawPath.substring(1).split("/", -1).toSeq
    val decoded = raw.map(decode)
    decoded.collectFirst { case Left(e) => e } match {
      case Some(e) => Left(e)
      case None =>
        val segs = decoded.collect { case Right(s) => s }
        if (segs.exists(_.isEmpty)) Left("empty path segment")
        else if (segs.exists(s => s == "." || s == "..")) Left("dot segments are not allowed")
        else if (segs.exists(s => s.exists(c => c == '/' || c == '\\' || Character.isISOControl(c)))) {
          Left("path segments must not contain separators or control characters")
        } else Right(segs)
    }
  }

  /** Parses `a=1&b=2`; duplicates are an error. Decoding follows form encoding (`+` is a space). */
  def query(raw: String): Either[String, Map[String, String]] = {
    if (raw == null || raw.isEmpty) return Right(Map.empty)
    val pairs = raw.split("&", -1).toSeq.filter(_.nonEmpty).map { p =>
      val i = p.indexOf('=')
      val (k, v) = if (i < 0) (p, "") else (p.substring(0, i), p.substring(i + 1))
      for { dk <- decode(k.replace('+', ' ')); dv <- decode(v.replace('+', ' ')) } yield dk -> dv
    }
    pairs.collectFirst { case Left(e) => e } match {
      case Some(e) => Left(e)
      case None =>
        val kvs = pairs.collect { case Right(kv) => kv }
        val dup = kvs.groupBy(_._1).collectFirst { case (k, vs) if vs.size > 1 => k }
        dup match {
          case Some(k) => Left(s"parameter '$k' is given more than once")
          case None => Right(kvs.toMap)
        }
    }
  }

  /** Percent-decodes as UTF-8, failing on malformed escapes or bytes. */
  def decode(s: String): Either[String, String] = {
    if (!s.contains('%')) return Right(s)
    val out = new ByteArrayOutputStream()
    var i = 0
    while (i < s.length) {
      val c = s.charAt(i)
      if (c == '%') {
        if (i + 2 >= s.length) return Left("malformed percent-encoding")
        val hex = s.substring(i + 1, i + 3)
        if (!hex.forall(h => Character.digit(h, 16) >= 0)) return Left("malformed percent-encoding")
        out.write(Integer.parseInt(hex, 16))
        i += 3
      } else {
        out.write(String.valueOf(c).getBytes(StandardCharsets.UTF_8))
        i += 1
      }
    }
    utf8(out.toByteArray).toRight("percent-encoding is not valid UTF-8")
  }

  /** The bytes as UTF-8 text; None when they are not valid UTF-8 (no replacement characters). */
  def utf8(bytes: Array[Byte]): Option[String] = {
    val decoder = StandardCharsets.UTF_8
      .newDecoder()
      .onMalformedInput(CodingErrorAction.REPORT)
      .onUnmappableCharacter(CodingErrorAction.REPORT)
    try Some(decoder.decode(ByteBuffer.wrap(bytes)).toString)
    catch { case _: CharacterCodingException => None }
  }

  /** Reads at most `limit` bytes of a body; None when it is longer. */
  def readBody(in: InputStream, limit: Int): Option[Array[Byte]] = {
    val out = new ByteArrayOutputStream()
    val buf = new Array[Byte](8192)
    var total = 0
    var n = in.read(buf)
    while (n >= 0) {
      total += n
      if (total > limit) return None
      out.write(buf, 0, n)
      n = in.read(buf)
    }
    Some(out.toByteArray)
  }
}
