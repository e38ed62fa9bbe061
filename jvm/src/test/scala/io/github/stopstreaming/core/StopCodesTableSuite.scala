package io.github.stopstreaming.core

import java.io.File

import scala.io.Source

import org.scalatest.funsuite.AnyFunSuite

/** The stop codes table of docs/http-api.md is [[StopCodes.all]] written out: a client reads its codes there. */
class StopCodesTableSuite extends AnyFunSuite {
  test("the HTTP page lists every stop code, and no other") {
    val f = Seq("docs/http-api.md", "../docs/http-api.md")
      .map(new File(_))
      .find(_.isFile)
      .getOrElse(fail("docs/http-api.md not found"))
    val s = Source.fromFile(f, "UTF-8")
    val page =
      try s.mkString
      finally s.close()
    val Row = """\| `([a-z-]+)` \| .*""".r
    val section = page.linesIterator.dropWhile(!_.startsWith("| `stop.code` |")).drop(2).takeWhile(_.startsWith("|"))
    val listed = section.collect { case Row(code) => code }.toSeq
    assert(listed.sorted == StopCodes.all.sorted)
  }
}
