package io.github.stopstreaming.core

import java.nio.charset.StandardCharsets
import java.nio.file.{Files, Paths}

import scala.util.control.NonFatal

/** A key store to serve HTTPS with. */
final case class TlsSettings(keyStore: String, password: Option[String], keyStoreType: String) {
  override def toString: String = s"TlsSettings($keyStore, $keyStoreType)"
}

/** Every `spark.stopstreaming.*` setting of the control plane, parsed and checked once (see [[Settings]]). No field has
  * a default of its own: every default is the one declared in [[Settings]], read in [[ControlSettings.fromConf]].
  */
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
    confFile: Option[String],
    confInitial: Map[String, String],
    shutdownGraceful: Boolean,
    shutdownTimeoutMs: Long,
    allowedOrigins: Seq[String],
    tls: Option[TlsSettings],
    confMaxBytes: Long,
    metricsPerQuery: Boolean,
    uiTab: Boolean,
    uiAllowedHosts: Seq[String],
    restartPolicy: RestartPolicy = RestartPolicy.Default
) {

  /** `https` when a key store is configured. */
  def scheme: String = if (tls.isDefined) "https" else "http"

  /** Where the control server binds: loopback unless a token protects it or the user chose. */
  def bindHost: String = restHost.getOrElse(if (token.isDefined) "0.0.0.0" else "127.0.0.1")

  override def toString: String =
    s"ControlSettings(rest=$restEnabled, host=$bindHost, port=$restPort, stopPath=$stopPath, " +
      s"auth=${if (token.isDefined) "token" else "none"}, stop=$stopMode/${stopTimeoutMs}ms, " +
      s"autoRegister=$autoRegister, retainTerminated=$retainTerminated, " +
      s"fs.stopDir=${fsStopDir.getOrElse("none")}, fs.pollInterval=${fsPollIntervalMs}ms, " +
      s"tls=${tls.map(_.keyStore).getOrElse("off")}, allowedOrigins=${allowedOrigins.mkString(",")})"
}

object ControlSettings {
  import Settings._

  /** Parses the settings from Spark conf entries (full keys) and the process environment. */
  def fromConf(conf: Map[String, String], env: Map[String, String] = sys.env): ControlSettings = {
    val token = AuthToken
      .read(conf)
      .filter(_.nonEmpty)
      .orElse(AuthTokenFile.read(conf).filter(_.nonEmpty).map(readSecretFile(AuthTokenFile.fullKey, _)))
      .orElse(env.get(TokenEnv).map(_.trim).filter(_.nonEmpty))
    token.foreach(t => AuthToken.parse(t).left.foreach(m => throw new InvalidSettingException(AuthToken.fullKey, m)))
    ControlSettings(
      restEnabled = RestEnabled.get(conf),
      restHost = RestHost.read(conf).filter(_.nonEmpty),
      restPort = RestPort.get(conf),
      stopPath = RestStopPath.get(conf),
      token = token,
      stopMode = StopModeSetting.get(conf),
      stopTimeoutMs = StopTimeout.get(conf),
      autoRegister = AutoRegister.get(conf),
      retainTerminated = RetainTerminated.get(conf),
      fsStopDir = FsStopDir.read(conf).filter(_.nonEmpty),
      fsPollIntervalMs = FsPollInterval.get(conf),
      confFile = ConfFile.read(conf).filter(_.nonEmpty),
      confInitial = initialValues(conf),
      shutdownGraceful = ShutdownGraceful.get(conf),
      shutdownTimeoutMs = ShutdownTimeout.get(conf),
      allowedOrigins = AllowedOrigins.get(conf),
      tls = tls(conf, env),
      confMaxBytes = ConfMaxBytes.get(conf).toLong,
      metricsPerQuery = MetricsPerQuery.get(conf),
      uiTab = UiTab.get(conf),
      uiAllowedHosts = UiAllowedHosts.get(conf),
      restartPolicy = RestartPolicy(
        RestartInitialDelay.get(conf),
        RestartFactor.get(conf),
        RestartMaxDelay.get(conf),
        RestartMaxRestarts.get(conf),
        RestartWindow.get(conf)
      )
    )
  }

  /** Our key store if set, else the one of Spark's UI when Spark serves its UI over TLS. */
  private def tls(conf: Map[String, String], env: Map[String, String]): Option[TlsSettings] =
    SslKeyStore.read(conf).filter(_.nonEmpty) match {
      case Some(ks) =>
        val password = SslKeyStorePassword
          .read(conf)
          .orElse(
            SslKeyStorePasswordFile
              .read(conf)
              .filter(_.nonEmpty)
              .map(readSecretFile(SslKeyStorePasswordFile.fullKey, _))
          )
          .orElse(env.get(KeyStorePasswordEnv))
        if (!new java.io.File(ks).isFile)
          throw new InvalidSettingException(SslKeyStore.fullKey, s"'$ks' is not a readable file")
        Some(TlsSettings(ks, password, SslKeyStoreType.get(conf)))
      case None =>
        def spark(k: String): Option[String] = conf.get(s"spark.ssl.ui.$k").orElse(conf.get(s"spark.ssl.$k"))
        val enabled = spark("enabled").exists(_.trim.equalsIgnoreCase("true"))
        spark("keyStore").filter(_ => enabled).map { ks =>
          TlsSettings(ks, spark("keyStorePassword"), spark("keyStoreType").getOrElse("JKS"))
        }
    }

  /** `spark.stopstreaming.conf.<key>` entries: initial dynamic values (`conf.file` is the file's path). */
  private def initialValues(conf: Map[String, String]): Map[String, String] =
    conf.collect {
      case (k, v) if k.startsWith(ConfInitialPrefix) && !ConfReserved.contains(k) =>
        val key = k.stripPrefix(ConfInitialPrefix)
        DynamicConfStore.checkEntry(key, v).left.foreach(r => throw new InvalidSettingException(k, r.message))
        if (key.startsWith(ManagedQueries.PausePrefix))
          throw new InvalidSettingException(
            k,
            s"keys under '${ManagedQueries.PausePrefix}' hold the pauses of managed queries; pause with the API instead"
          )
        key -> v
    }

  private def readSecretFile(key: String, path: String): String = {
    val text =
      try new String(Files.readAllBytes(Paths.get(path)), StandardCharsets.UTF_8)
      catch {
        case NonFatal(e) => throw new InvalidSettingException(key, s"cannot read '$path' (${e.getClass.getSimpleName})")
      }
    val t = text.trim
    if (t.isEmpty) throw new InvalidSettingException(key, s"'$path' is empty")
    t
  }
}
