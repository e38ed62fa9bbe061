package io.github.stopstreaming.control

import java.nio.charset.StandardCharsets
import java.nio.file.{Files, Paths}

import scala.util.control.NonFatal

import org.apache.spark.network.util.JavaUtils

/** A configuration value that cannot be used; the message always names the key. */
final class InvalidSettingException(val key: String, message: String)
    extends IllegalArgumentException(s"$key: $message")

/** Every `spark.stopstreaming.*` setting of the control plane, parsed and checked once. */
final case class ControlSettings(
    restEnabled: Boolean,
    restHost: Option[String],
    restPort: Int,
    stopPath: String,
    token: Option[String],
    stopMode: StopMode,
    stopTimeoutMs: Long,
    autoRegister: Boolean,
    retainTerminated: Int,
    fsStopDir: Option[String],
    fsPollIntervalMs: Long,
    confFile: Option[String] = None,
    confSeed: Map[String, String] = Map.empty,
    shutdownGraceful: Boolean = true,
    shutdownTimeoutMs: Long = 20000L
) {

  /** Where the control server binds: loopback unless a token protects it or the user chose. */
  def bindHost: String = restHost.getOrElse(if (token.isDefined) "0.0.0.0" else "127.0.0.1")

  override def toString: String =
    s"ControlSettings(rest=$restEnabled, host=$bindHost, port=$restPort, stopPath=$stopPath, " +
      s"auth=${if (token.isDefined) "token" else "none"}, stop=$stopMode/${stopTimeoutMs}ms, " +
      s"autoRegister=$autoRegister, retainTerminated=$retainTerminated, " +
      s"fs.stopDir=${fsStopDir.getOrElse("none")}, fs.pollInterval=${fsPollIntervalMs}ms)"
}

object ControlSettings {
  val Prefix = "spark.stopstreaming."
  val TokenEnv = "STOPSTREAMING_TOKEN"
  val DefaultPort = 8558

  /** The keys this object reads, with their defaults, in the order the README lists them. */
  val Defaults: Seq[(String, String)] = Seq(
    "rest.enabled" -> "true",
    "rest.host" -> "",
    "rest.port" -> DefaultPort.toString,
    "rest.stopPath" -> "/stop",
    "auth.token" -> "",
    "auth.tokenFile" -> "",
    "stop.mode" -> "graceful",
    "stop.timeout" -> "0",
    "autoRegister" -> "true",
    "registry.retainTerminated" -> "100",
    "fs.stopDir" -> "",
    "fs.pollInterval" -> "1s",
    "conf.file" -> "",
    "shutdown.graceful" -> "true",
    "shutdown.timeout" -> "20s"
  )

  /** Parses the settings from Spark conf entries (full keys) and the process environment. */
  def fromConf(conf: Map[String, String], env: Map[String, String] = sys.env): ControlSettings = {
    val reader = new SettingsReader(conf)
    val tokenFile = reader.string("auth.tokenFile").filter(_.trim.nonEmpty)
    val token = reader
      .string("auth.token")
      .filter(_.nonEmpty)
      .orElse(tokenFile.map(readTokenFile))
      .orElse(env.get(TokenEnv).map(_.trim).filter(_.nonEmpty))
    token.foreach { t =>
      if (t.exists(c => c.isWhitespace || c.isControl)) {
        throw new InvalidSettingException(
          Prefix + "auth.token",
          "the token must not contain spaces or control characters"
        )
      }
    }
    val stopPath = reader.string("rest.stopPath").getOrElse("/stop")
    validateStopPath(stopPath)
    ControlSettings(
      restEnabled = reader.boolean("rest.enabled", default = true),
      restHost = reader.string("rest.host").map(_.trim).filter(_.nonEmpty),
      restPort = reader.int("rest.port", DefaultPort, min = 0, max = 65535),
      stopPath = stopPath,
      token = token,
      stopMode = reader
        .string("stop.mode")
        .map(m =>
          StopMode
            .parse(m)
            .getOrElse(
              throw new InvalidSettingException(Prefix + "stop.mode", s"'$m' is not one of graceful, immediate")
            )
        )
        .getOrElse(StopMode.Graceful),
      stopTimeoutMs = reader.duration("stop.timeout", 0L),
      autoRegister = reader.boolean("autoRegister", default = true),
      retainTerminated = reader.int("registry.retainTerminated", 100, min = 0, max = 100000),
      fsStopDir = reader.string("fs.stopDir").map(_.trim).filter(_.nonEmpty),
      fsPollIntervalMs = {
        val ms = reader.duration("fs.pollInterval", 1000L)
        if (ms < 10)
          throw new InvalidSettingException(Prefix + "fs.pollInterval", s"${ms}ms is below the minimum of 10ms")
        ms
      },
      confFile = reader.string("conf.file").map(_.trim).filter(_.nonEmpty),
      confSeed = dynamicSeed(conf),
      shutdownGraceful = reader.boolean("shutdown.graceful", default = true),
      shutdownTimeoutMs = {
        val ms = reader.duration("shutdown.timeout", 20000L)
        if (ms <= 0) throw new InvalidSettingException(Prefix + "shutdown.timeout", "must be above 0")
        ms
      }
    )
  }

  /** `spark.stopstreaming.conf.<key>` entries: initial dynamic values (`conf.file` is the file's path). */
  private def dynamicSeed(conf: Map[String, String]): Map[String, String] = {
    val prefix = Prefix + "conf."
    conf.collect {
      case (k, v) if k.startsWith(prefix) && k != prefix + "file" =>
        val key = k.stripPrefix(prefix)
        if (!io.github.stopstreaming.dynconf.DynamicConfStore.isValidKey(key))
          throw new InvalidSettingException(k, "a dynamic key must be 1-256 characters of A-Z a-z 0-9 . _ -")
        if (v.getBytes("UTF-8").length > io.github.stopstreaming.dynconf.DynamicConfStore.MaxValueBytes)
          throw new InvalidSettingException(k, "the value is larger than 64 KiB")
        key -> v
    }
  }

  private def readTokenFile(path: String): String = {
    val key = Prefix + "auth.tokenFile"
    val text =
      try new String(Files.readAllBytes(Paths.get(path)), StandardCharsets.UTF_8)
      catch {
        case NonFatal(e) => throw new InvalidSettingException(key, s"cannot read '$path' (${e.getClass.getSimpleName})")
      }
    val t = text.trim
    if (t.isEmpty) throw new InvalidSettingException(key, s"'$path' is empty")
    t
  }

  /** Checks a stop path (`/stop`); the error names `key`. */
  def validateStopPath(p: String, key: String = Prefix + "rest.stopPath"): Unit = {
    val segment = "[A-Za-z0-9._~-]+"
    if (!p.matches(s"(/$segment)+") || p.split('/').exists(s => s == "." || s == "..")) {
      throw new InvalidSettingException(
        key,
        s"'$p' must look like /stop: one or more plain path segments, no trailing slash"
      )
    }
    if (p == "/api" || p.startsWith("/api/")) {
      throw new InvalidSettingException(key, s"'$p' must not be under /api, which the control API uses")
    }
  }

  /** Parses durations the way Spark does (`500ms`, `30s`, `5m`; a bare number is milliseconds). */
  def parseDuration(text: String): Option[Long] = {
    val t = text.trim
    if (t.isEmpty || t.startsWith("-")) None
    else
      try Some(JavaUtils.timeStringAsMs(t))
      catch { case NonFatal(_) => None }
  }
}

/** Reads typed values under [[ControlSettings.Prefix]], failing with the key's name. */
final class SettingsReader(conf: Map[String, String]) {
  import ControlSettings.Prefix

  def string(key: String): Option[String] = conf.get(Prefix + key)

  def boolean(key: String, default: Boolean): Boolean = string(key).map(_.trim.toLowerCase) match {
    case None => default
    case Some("true") => true
    case Some("false") => false
    case Some(other) => throw new InvalidSettingException(Prefix + key, s"'$other' is not true or false")
  }

  def int(key: String, default: Int, min: Int, max: Int): Int = string(key) match {
    case None => default
    case Some(v) =>
      val n =
        try v.trim.toInt
        catch {
          case _: NumberFormatException =>
            throw new InvalidSettingException(Prefix + key, s"'$v' is not a whole number")
        }
      if (n < min || n > max) throw new InvalidSettingException(Prefix + key, s"$n is outside $min..$max")
      n
  }

  def duration(key: String, default: Long): Long = string(key) match {
    case None => default
    case Some(v) =>
      ControlSettings
        .parseDuration(v)
        .getOrElse(throw new InvalidSettingException(Prefix + key, s"'$v' is not a duration such as 500ms, 30s or 5m"))
  }
}
