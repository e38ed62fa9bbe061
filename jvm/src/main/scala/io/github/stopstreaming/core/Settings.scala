package io.github.stopstreaming.core

/** A configuration value that cannot be used; the message always names the key. */
final class InvalidSettingException(val key: String, message: String)
    extends IllegalArgumentException(s"$key: $message")

/** The kind of value a setting takes; it decides the parser and the Python types `configure()` accepts. */
sealed abstract class SettingKind(val name: String)

object SettingKind {
  case object Bool extends SettingKind("boolean")
  case object Integer extends SettingKind("int")
  case object Text extends SettingKind("string")
  case object Duration extends SettingKind("duration")
}

/** One `spark.stopstreaming.*` setting, declared once: key, kind, default, parser and the line that
  * docs/configuration.md shows.
  */
final case class Setting[T](
    key: String,
    kind: SettingKind,
    default: Option[T],
    doc: String,
    parse: String => Either[String, T],
    show: T => String = (v: T) => v.toString,
    whenUnset: String = "(none)"
) {
  def fullKey: String = Settings.Prefix + key

  /** The default as the configuration table shows it, derived from the value itself (so the two cannot disagree); an
    * empty list, or no default, is `whenUnset`.
    */
  def defaultText: String = default match {
    case Some(v: Seq[_]) if v.isEmpty => whenUnset
    case Some(v) => s"`${show(v)}`"
    case None => whenUnset
  }

  /** The value given in `conf` (full keys), parsed; a bad value fails with the key's name. */
  def read(conf: Map[String, String]): Option[T] =
    conf.get(fullKey).map(v => parse(v).fold(m => throw new InvalidSettingException(fullKey, m), identity))

  /** The given value, else the default (only for settings that have one). */
  def get(conf: Map[String, String]): T =
    read(conf).orElse(default).getOrElse(throw new IllegalStateException(s"$fullKey has no default"))

  /** The name `configure()` takes in Python: `rest.stopPath` -> `rest_stop_path`. */
  def pythonName: String =
    key.replace('.', '_').flatMap(c => if (c.isUpper) "_" + c.toLower else c.toString)
}

/** Every setting of the control plane, in the order the table of docs/configuration.md lists them (the way Spark's own
  * `ConfigBuilder` entries are declared). That table and the Python option names are checked against this list by
  * tests.
  */
object Settings {
  final val Prefix = "spark.stopstreaming."
  final val TokenEnv = "STOPSTREAMING_TOKEN"
  val KeyStorePasswordEnv = "STOPSTREAMING_KEYSTORE_PASSWORD"
  val DefaultPort = 8558
  val DefaultStopPath = "/stop"

  // The keys the early bind (runtime/EarlyBind) reads before any setting is parsed. Constants, which the compiler writes
  // into the code that reads them, so that reading them loads none of the declarations below.
  final val AuthTokenKey = "auth.token"
  final val AuthTokenFileKey = "auth.tokenFile"
  final val SslKeyStoreKey = "rest.ssl.keyStore"

  private def bool(s: String): Either[String, Boolean] = s.trim.toLowerCase match {
    case "true" => Right(true)
    case "false" => Right(false)
    case other => Left(s"'$other' is not true or false")
  }

  private def int(min: Int, max: Int)(s: String): Either[String, Int] =
    try {
      val n = s.trim.toInt
      if (n < min || n > max) Left(s"$n is outside $min..$max") else Right(n)
    } catch { case _: NumberFormatException => Left(s"'$s' is not a whole number") }

  private def text(s: String): Either[String, String] = Right(s.trim)

  private def duration(minMs: Long)(s: String): Either[String, Long] =
    Durations.parse(s) match {
      case None => Left(s"'$s' is not a duration such as 500ms, 30s or 5m")
      case Some(ms) if ms < minMs =>
        Left(if (minMs == 1) "must be above 0" else s"${ms}ms is below the minimum of ${minMs}ms")
      case Some(ms) => Right(ms)
    }

  // Each declaration below registers itself, in order: the list of every setting is not written a second time.
  private val declared = scala.collection.mutable.ArrayBuffer.empty[Setting[_]]
  private def declare[T](s: Setting[T]): Setting[T] = { declared += s; s }

  /** A duration as it is written in a configuration: `0`, `500ms`, `20s`, `5m`. */
  private def showMs(ms: Long): String =
    if (ms == 0) "0"
    else if (ms % 60000 == 0) s"${ms / 60000}m"
    else if (ms % 1000 == 0) s"${ms / 1000}s"
    else s"${ms}ms"

  val RestEnabled: Setting[Boolean] =
    declare(Setting("rest.enabled", SettingKind.Bool, Some(true), "run the HTTP control server", bool))
  val RestHost: Setting[String] = declare(
    Setting(
      "rest.host",
      SettingKind.Text,
      None,
      "bind address",
      text,
      whenUnset = "`127.0.0.1` without a token, `0.0.0.0` with one"
    )
  )
  val RestPort: Setting[Int] = declare(
    Setting(
      "rest.port",
      SettingKind.Integer,
      Some(DefaultPort),
      "port; `0` picks a free one (logged, and published as `spark.stopstreaming.rest.url`)",
      int(0, 65535)
    )
  )
  val RestStopPath: Setting[String] = declare(
    Setting(
      "rest.stopPath",
      SettingKind.Text,
      Some(DefaultStopPath),
      "base path of the `POST {stopPath}/{queryId}` of the stopstreaming 0.x API",
      s => StopPaths.check(s.trim).map(_ => s.trim)
    )
  )
  val AllowedOrigins: Setting[Seq[String]] = declare(
    Setting(
      "rest.allowedOrigins",
      SettingKind.Text,
      Some(Nil),
      "web origins (comma-separated, e.g. `https://ops.example.com`) whose pages may call the API; only with a token",
      s => {
        val origins = s.split(",").map(_.trim).filter(_.nonEmpty).toSeq
        origins.find(o => !o.matches("https?://[^/\\s]+")) match {
          case Some(bad) => Left(s"'$bad' is not an origin such as https://ops.example.com")
          case None => Right(origins)
        }
      }
    )
  )
  val SslKeyStore: Setting[String] = declare(
    Setting(
      SslKeyStoreKey,
      SettingKind.Text,
      None,
      "key store file: serve HTTPS (TLS 1.2+) with it",
      text,
      whenUnset = "(none; Spark's UI key store if `spark.ssl.ui.enabled`)"
    )
  )
  val SslKeyStorePassword: Setting[String] = declare(
    Setting(
      "rest.ssl.keyStorePassword",
      SettingKind.Text,
      None,
      "its password (or `rest.ssl.keyStorePasswordFile`, or `STOPSTREAMING_KEYSTORE_PASSWORD`)",
      s => Right(s)
    )
  )
  val SslKeyStorePasswordFile: Setting[String] = declare(
    Setting(
      "rest.ssl.keyStorePasswordFile",
      SettingKind.Text,
      None,
      "file holding the key store password",
      text
    )
  )
  val SslKeyStoreType: Setting[String] = declare(
    Setting(
      "rest.ssl.keyStoreType",
      SettingKind.Text,
      Some("PKCS12"),
      "key store type (`PKCS12` or `JKS`)",
      text
    )
  )
  val AuthToken: Setting[String] = declare(
    Setting(
      AuthTokenKey,
      SettingKind.Text,
      None,
      "bearer token required by every endpoint but health",
      s =>
        if (s.exists(c => c.isWhitespace || c.isControl))
          Left("the token must not contain spaces or control characters")
        else Right(s)
    )
  )
  val AuthTokenFile: Setting[String] = declare(
    Setting(
      AuthTokenFileKey,
      SettingKind.Text,
      None,
      "file holding the token (used when `auth.token` is unset)",
      text
    )
  )
  val StopModeSetting: Setting[StopMode] = declare(
    Setting(
      "stop.mode",
      SettingKind.Text,
      Some(StopMode.Graceful),
      "default mode of a stop: `graceful` or `immediate`",
      StopMode.parseEither,
      show = (m: StopMode) => m.name
    )
  )
  val StopTimeout: Setting[Long] = declare(
    Setting(
      "stop.timeout",
      SettingKind.Duration,
      Some(0L),
      "how long a graceful stop may wait before escalating to immediate; `0` = never",
      duration(0),
      show = showMs
    )
  )
  val AutoRegister: Setting[Boolean] =
    declare(Setting("autoRegister", SettingKind.Bool, Some(true), "register every query the driver starts", bool))
  val RetainTerminated: Setting[Int] = declare(
    Setting(
      "registry.retainTerminated",
      SettingKind.Integer,
      Some(100),
      "how many ended queries stay visible",
      int(0, 100000)
    )
  )
  val FsStopDir: Setting[String] = declare(
    Setting(
      "fs.stopDir",
      SettingKind.Text,
      None,
      "stop directory watched for every query (created at start if missing)",
      text
    )
  )
  val FsPollInterval: Setting[Long] = declare(
    Setting(
      "fs.pollInterval",
      SettingKind.Duration,
      Some(1000L),
      "how often each stop directory is listed (at least 10ms)",
      duration(10),
      show = showMs
    )
  )
  val ShutdownGraceful: Setting[Boolean] = declare(
    Setting(
      "shutdown.graceful",
      SettingKind.Bool,
      Some(true),
      "stop every query gracefully when the driver JVM shuts down",
      bool
    )
  )
  val ShutdownTimeout: Setting[Long] = declare(
    Setting(
      "shutdown.timeout",
      SettingKind.Duration,
      Some(20000L),
      "bound of that graceful shutdown before it escalates to immediate",
      duration(1),
      show = showMs
    )
  )
  val MetricsPerQuery: Setting[Boolean] = declare(
    Setting(
      "metrics.perQuery",
      SettingKind.Bool,
      Some(false),
      "a metrics source per running query (`stopstreaming.query.<name>`: rates, batch duration, latest batch id)",
      bool
    )
  )
  val UiTab: Setting[Boolean] = declare(
    Setting(
      "ui.tab",
      SettingKind.Bool,
      Some(true),
      "a Streaming Control tab in the Spark UI (when the UI is on; its stop buttons follow `spark.ui.killEnabled` and Spark's ACLs)",
      bool
    )
  )
  val UiAllowedHosts: Setting[Seq[String]] = declare(
    Setting(
      "ui.allowedHosts",
      SettingKind.Text,
      Some(Nil),
      "more names (comma-separated) the Spark UI is reached under, e.g. a proxy's; the tab refuses stops sent to any " +
        "other `Host` besides loopback, IP addresses, this machine's name, `spark.driver.host` and `SPARK_PUBLIC_DNS`",
      s => {
        val hosts = s.split(",").map(_.trim.toLowerCase(java.util.Locale.ROOT)).filter(_.nonEmpty).toSeq
        hosts.find(h => !h.matches("[a-z0-9._-]+")) match {
          case Some(bad) => Left(s"'$bad' is not a host name such as spark.example.com (no scheme, no port)")
          case None => Right(hosts)
        }
      }
    )
  )
  val ConfFile: Setting[String] = declare(
    Setting(
      "conf.file",
      SettingKind.Text,
      None,
      "persistence file of the dynamic configuration (any Hadoop path)",
      text
    )
  )
  val ConfMaxBytes: Setting[Int] = declare(
    Setting(
      "conf.maxBytes",
      SettingKind.Integer,
      Some(1048576),
      "the most the dynamic configuration may hold (keys and values, in bytes; 1 MiB)",
      int(1024, Int.MaxValue)
    )
  )
  val RestartInitialDelay: Setting[Long] = declare(
    Setting(
      "restart.initialDelay",
      SettingKind.Duration,
      Some(RestartPolicy.Default.initialDelayMs),
      "a managed query that failed starts again after this delay (the first failure within the window)",
      duration(0),
      show = showMs
    )
  )
  val RestartFactor: Setting[Int] = declare(
    Setting(
      "restart.factor",
      SettingKind.Integer,
      Some(RestartPolicy.Default.factor),
      "each further failure within the window multiplies that delay by this",
      int(1, 100)
    )
  )
  val RestartMaxDelay: Setting[Long] = declare(
    Setting(
      "restart.maxDelay",
      SettingKind.Duration,
      Some(RestartPolicy.Default.maxDelayMs),
      "the longest delay before a restart",
      duration(0),
      show = showMs
    )
  )
  val RestartMaxRestarts: Setting[Int] = declare(
    Setting(
      "restart.maxRestarts",
      SettingKind.Integer,
      Some(RestartPolicy.Default.maxRestarts),
      "restarts after failures allowed within the window; the next failure makes the managed query FAILED",
      int(0, 1000000)
    )
  )
  val RestartWindow: Setting[Long] = declare(
    Setting(
      "restart.window",
      SettingKind.Duration,
      Some(RestartPolicy.Default.windowMs),
      "the window in which failures are counted",
      duration(1),
      show = showMs
    )
  )

  /** Every setting, in the order of docs/configuration.md. `conf.<key>` (initial dynamic values) is a family of keys,
    * not one setting.
    */
  val all: Seq[Setting[_]] = declared.toList

  /** The prefix of the initial dynamic values, `spark.stopstreaming.conf.<key>=<value>`. */
  val ConfInitialPrefix: String = Prefix + "conf."

  /** Keys under `conf.` that are settings, not initial dynamic values. */
  val ConfReserved: Set[String] = Set(ConfFile.fullKey, ConfMaxBytes.fullKey)
}
