package io.github.stopstreaming.architecture

import java.io.File

import scala.io.Source

import org.scalatest.funsuite.AnyFunSuite

/** The layers point one way: the core knows no transport, adapters know the core, and only the runtime wires them
  * together. A source file that imports a package its layer may not see fails here.
  */
class LayersSuite extends AnyFunSuite {
  private val Root = "io.github.stopstreaming"

  /** Package -> the packages of ours it may use. */
  private val allowed: Map[String, Set[String]] = Map(
    "core" -> Set(),
    "codec" -> Set("core"),
    "rest" -> Set("core", "codec"),
    "fs" -> Set("core", "codec"),
    "shutdown" -> Set("core"),
    "observe" -> Set("core", "codec"),
    "runtime" -> Set("core", "codec", "rest", "fs", "shutdown", "observe"),
    "plugin" -> Set("core", "runtime"),
    "dynconf" -> Set("core", "runtime"),
    "extensions" -> Set("core", "runtime", "plugin"),
    "python" -> Set("core", "codec", "runtime", "plugin", "extensions"),
    "" -> Set("plugin")
  )

  private val sourceRoot: File =
    Seq("src/main/scala/io/github/stopstreaming", "jvm/src/main/scala/io/github/stopstreaming")
      .map(new File(_))
      .find(_.isDirectory)
      .getOrElse(fail(s"no main sources seen from ${new File(".").getAbsolutePath}"))

  private def files(dir: File): Seq[File] =
    Option(dir.listFiles).toSeq.flatten
      .flatMap(f => if (f.isDirectory) files(f) else Seq(f))
      .filter(_.getName.endsWith(".scala"))

  private def packageOf(f: File): String = {
    val rel = sourceRoot.toPath.relativize(f.getParentFile.toPath).toString
    rel.split(File.separatorChar).headOption.filter(_.nonEmpty).getOrElse("")
  }

  /** Every package of ours a file names, in an import or a qualified reference. */
  private def uses(f: File): Set[String] = {
    val text = {
      val s = Source.fromFile(f, "UTF-8");
      try s.mkString
      finally s.close()
    }
    val ref = (Root.replace(".", "\\.") + "\\.([a-z]+)\\b").r
    ref.findAllMatchIn(text).map(_.group(1)).toSet
  }

  test("every package of the plugin is in the layer table") {
    val packages = files(sourceRoot).map(packageOf).toSet
    assert(packages == allowed.keySet, s"packages: $packages")
  }

  test("no file uses a package its layer may not see") {
    val violations = for {
      f <- files(sourceRoot)
      own = packageOf(f)
      used <- uses(f) - own
      if allowed.contains(used) && !allowed(own).contains(used)
    } yield s"${sourceRoot.toPath.relativize(f.toPath)} ($own) uses $used"
    assert(violations.isEmpty, violations.mkString("\n", "\n", ""))
  }

  test("the core knows no transport: no HTTP server, no JSON writer, no Hadoop file system") {
    val transports = Seq("com.sun.net.httpserver", "com.fasterxml.jackson", "org.apache.hadoop.fs")
    val found = for {
      f <- files(new File(sourceRoot, "core"))
      text = {
        val s = Source.fromFile(f, "UTF-8");
        try s.mkString
        finally s.close()
      }
      t <- transports if text.contains(t)
    } yield s"${f.getName} uses $t"
    assert(found.isEmpty, found.mkString(", "))
  }
}
