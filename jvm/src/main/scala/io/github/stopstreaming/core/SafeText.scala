package io.github.stopstreaming.core

/** Text that came from outside (a URL path, a header, a file name) made safe to keep and to show: control characters,
  * line and paragraph separators and the invisible bidirectional controls are escaped as `\n`, `\u001b` and the like,
  * so nothing written to a log line, an audit record, an `.error` file or a terminal can forge a line or move the
  * cursor; and it is cut to a bounded length, so a stranger's input costs a bounded amount of memory.
  */
object SafeText {

  /** The longest name (a query name or id, a target) kept in a record. */
  val MaxName = 256

  /** The longest free text (a reason, a value) kept in a record. */
  val MaxText = 512

  def name(s: String): String = clean(s, MaxName)

  def text(s: String): String = clean(s, MaxText)

  /** `s` escaped, cut to at most `max` characters of the original, with the number of characters dropped. */
  def clean(s: String, max: Int): String = {
    if (s == null) return null
    val cut = if (s.length > max) s.substring(0, max) else s
    // Backslashes are doubled only where something was escaped, so plain text stays as it was and an escape stays
    // distinguishable from the same characters typed literally.
    val doubleBackslash = needsEscape(cut)
    if (!doubleBackslash && s.length <= max) return s
    val out = new java.lang.StringBuilder(cut.length + 16)
    var i = 0
    while (i < cut.length) {
      val c = cut.charAt(i)
      c match {
        case '\n' => out.append("\\n")
        case '\r' => out.append("\\r")
        case '\t' => out.append("\\t")
        case '\\' if doubleBackslash => out.append("\\\\")
        case _ if unsafe(c) => out.append(f"\\u${c.toInt}%04x")
        case _ => out.append(c)
      }
      i += 1
    }
    if (s.length > max) out.append(s"…(+${s.length - max} chars)")
    out.toString
  }

  /** Whether `s` holds anything [[clean]] would escape. */
  def needsEscape(s: String): Boolean = s.exists(c => c == '\n' || c == '\r' || c == '\t' || unsafe(c))

  private def unsafe(c: Char): Boolean =
    Character.isISOControl(c) || c == '\u2028' || c == '\u2029' || (c >= '\u202a' && c <= '\u202e') ||
      (c >= '\u2066' && c <= '\u2069') || c == '\u200e' || c == '\u200f' || c == '\u061c'
}
