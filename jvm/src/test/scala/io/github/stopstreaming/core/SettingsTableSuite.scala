package io.github.stopstreaming.core

import java.io.File

import scala.io.Source

import org.scalatest.funsuite.AnyFunSuite

/** The configuration table of docs/configuration.md is the settings list written out: same keys, order, defaults and
  * meanings.
  */
class SettingsTableSuite extends AnyFunSuite {
  private val page: String = {
    val f = Seq("docs/configuration.md", "../docs/configuration.md")
      .map(new File(_))
      .find(_.isFile)
      .getOrElse(fail("docs/configuration.md not found"))
    val s = Source.fromFile(f, "UTF-8")
    try s.mkString
    finally s.close()
  }

  /** Rows of the page's table: key, default, meaning. */
  private def tableRows: Seq[(String, String, String)] = {
    val Row = """\| `([^`]+)` \| (.*?) \| (.*) \|""".r
    page.linesIterator.collect { case Row(k, d, m) => (k, d.trim, m.trim) }.toSeq
  }

  test("the configuration page lists every setting, in order, with its default and meaning") {
    val expected = Settings.all.map(s => (s.key, s.defaultText, s.doc)) :+
      (("conf.<key>", "(none)", "initial value of a dynamic key"))
    assert(tableRows == expected)
  }

  test("each declared default parses to the value the setting uses") {
    Settings.all.foreach { s =>
      s.default.filter(_ => s.defaultText.startsWith("`")).foreach { d =>
        val text = s.defaultText.stripPrefix("`").stripSuffix("`")
        assert(s.parse(text) == Right(d), s.key)
      }
    }
  }

  test("Python option names follow the keys") {
    assert(Settings.RestStopPath.pythonName == "rest_stop_path")
    assert(Settings.AutoRegister.pythonName == "auto_register")
    assert(Settings.RetainTerminated.pythonName == "registry_retain_terminated")
    assert(Settings.all.map(_.pythonName).distinct.size == Settings.all.size)
  }
}
