package io.github.stopstreaming.rest

import java.io.FileInputStream
import java.security.KeyStore
import javax.net.ssl.{KeyManagerFactory, SSLContext}

import scala.util.control.NonFatal

import com.sun.net.httpserver.{HttpsConfigurator, HttpsParameters}
import io.github.stopstreaming.core.{InvalidSettingException, Settings, TlsSettings}

/** HTTPS for the control server: the JDK's own server with a key store, TLS 1.2 and 1.3 only. */
object Tls {
  val Protocols: Array[String] = Array("TLSv1.3", "TLSv1.2")

  /** An SSL context from the key store; a store that cannot be opened fails the start with the key's name. */
  def context(t: TlsSettings): SSLContext =
    try {
      val ks = KeyStore.getInstance(t.keyStoreType)
      val password = t.password.map(_.toCharArray).orNull
      val in = new FileInputStream(t.keyStore)
      try ks.load(in, password)
      finally in.close()
      val kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm)
      kmf.init(ks, password)
      val ctx = SSLContext.getInstance("TLS")
      ctx.init(kmf.getKeyManagers, null, null)
      ctx
    } catch {
      case NonFatal(e) =>
        throw new InvalidSettingException(
          Settings.SslKeyStore.fullKey,
          s"cannot open ${t.keyStoreType} key store '${t.keyStore}': ${e.getMessage}"
        )
    }

  def configurator(ctx: SSLContext): HttpsConfigurator = new HttpsConfigurator(ctx) {
    override def configure(params: HttpsParameters): Unit = {
      val p = ctx.getDefaultSSLParameters
      p.setProtocols(Protocols.filter(ctx.getSupportedSSLParameters.getProtocols.contains))
      params.setSSLParameters(p)
    }
  }
}
