package io.github.stopstreaming.architecture

import java.io.File

import scala.io.Source

import org.scalatest.funsuite.AnyFunSuite

/** The layers point one way: the core knows no transport, adapters know the core, and only the runtime wires them
  * together. A source file that imports a package its layer may not see fails here. The code that must live in Spark's
  * own package (`org.apache.spark.stopstreaming`: the UI tab, the listener bus bridge, the metrics source, in every
  * source root of both Spark lines) is one more adapter layer, "spark", held to the same rules.
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
    "observe" -> Set("core", "codec", "spark"),
    "runtime" -> Set("core", "codec", "rest", "fs", "shutdown", "observe"),
    "plugin" -> Set("core", "runtime", "spark"),
    "dynconf" -> Set("core", "runtime"),
    "extensions" -> Set("core", "runtime", "plugin"),
    "python" -> Set("core", "codec", "runtime", "plugin", "extensions"),
    "" -> Set("plugin"),
    "spark" -> Set("core")
  )

  /** The source roots of main code: the shared one and each Spark line's. */
  private val mainRoots: Seq[File] = {
    val base = Seq("src/main", "jvm/src/main").map(new File(_)).find(_.isDirectory).getOrElse(fail("no src/main"))
    Option(base.listFiles).toSeq.flatten.filter(d => d.isDirectory && d.getName.startsWith("scala"))
  }

  /** Every file of the "spark" layer, in every source root. */
  private def sparkFiles: Seq[File] = mainRoots.flatMap(r => files(new File(r, "org/apache/spark/stopstreaming")))

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
    val ours = ref.findAllMatchIn(text).map(_.group(1)).toSet
    if (text.contains("org.apache.spark.stopstreaming")) ours + "spark" else ours
  }

  test("every package of the plugin is in the layer table") {
    val packages = files(sourceRoot).map(packageOf).toSet + "spark"
    assert(packages == allowed.keySet, s"packages: $packages")
    assert(sparkFiles.size >= 5, s"the Spark-package code of both lines: ${sparkFiles.map(_.getName)}")
  }

  test("no file uses a package its layer may not see") {
    val violations = for {
      f <- files(sourceRoot)
      own = packageOf(f)
      used <- uses(f) - own
      if allowed.contains(used) && !allowed(own).contains(used)
    } yield s"${sourceRoot.toPath.relativize(f.toPath)} ($own) uses $used"
    val fromSpark = for {
      f <- sparkFiles
      used <- uses(f) - "spark"
      if !allowed("spark").contains(used)
    } yield s"${f.getPath} (spark) uses $used"
    val all = violations ++ fromSpark
    assert(all.isEmpty, all.mkString("\n", "\n", ""))
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
