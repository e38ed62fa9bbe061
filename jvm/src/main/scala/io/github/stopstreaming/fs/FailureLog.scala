package io.github.stopstreaming.fs

/** Logs a repeating failure at the 1st, 2nd, 4th, 8th... occurrence, and once when it ends. */
final class FailureLog(log: org.slf4j.Logger, what: String) {
  private var count = 0L

  def failed(why: String): Unit = {
    count += 1
    if ((count & (count - 1)) == 0) {
      log.warn(s"$what failed ($count time(s) in a row; no query is stopped because of it): $why")
    }
  }

  def recovered(): Unit = {
    if (count > 0) log.info(s"$what works again after $count failure(s)")
    count = 0
  }
}
