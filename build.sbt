// One build for the driver plugin (jvm/) and its example application (examples/scala/). The
// Spark line is chosen by a system property (./sbt -Dspark.version=3.5.8 ...): Spark 4.x builds
// with Scala 2.13, Spark 3.x with Scala 2.12. Every Spark internal the plugin relies on is found
// by reflection at run time (core/StreamInternals.scala). The one exception is the Spark UI tab,
// whose servlet types are javax on Spark 3 and jakarta on Spark 4: its thin classes live in
// jvm/src/main/scala-spark3 and scala-spark4.

import scala.sys.process._

// The one version number of the project, shared with the Python package.
val projectVersion = IO.read(file("python/src/stopstreaming/VERSION")).trim

val sparkVersion = sys.props.getOrElse("spark.version", "4.1.3")
val sparkMajor = sparkVersion.takeWhile(_ != '.')
val scalaForSpark = sparkMajor match {
  case "3" => "2.12.18"
  case "4" => "2.13.17"
  case other => sys.error(s"spark.version=$sparkVersion: only Spark 3.5.x and 4.x are supported")
}

ThisBuild / organization := "io.github.stopstreaming"
ThisBuild / version := projectVersion
ThisBuild / scalaVersion := scalaForSpark
ThisBuild / licenses := Seq("Apache-2.0" -> url("https://www.apache.org/licenses/LICENSE-2.0"))

// Spark on Java 17 needs these opens; spark-submit adds them itself, forked tests do not.
val sparkJavaOptions = Seq(
  "java.lang",
  "java.lang.invoke",
  "java.lang.reflect",
  "java.io",
  "java.net",
  "java.nio",
  "java.util",
  "java.util.concurrent",
  "java.util.concurrent.atomic",
  "sun.nio.ch",
  "sun.nio.cs",
  "sun.security.action",
  "sun.util.calendar"
).map(p => s"--add-opens=java.base/$p=ALL-UNNAMED") ++ Seq(
  "-Djdk.reflect.useDirectMethodHandle=false",
  "-Dio.netty.tryReflectionSetAccessible=true"
)

lazy val root = (project in file("."))
  .aggregate(jvm, examples)
  .settings(publish / skip := true, name := "stopstreaming-root")

lazy val jvm = (project in file("jvm"))
  .settings(
    name := s"stopstreaming-spark$sparkMajor",
    Compile / unmanagedSourceDirectories += (Compile / sourceDirectory).value / s"scala-spark$sparkMajor",
    scalacOptions ++= Seq("-deprecation", "-feature", "-unchecked", "-release", "17"),
    javacOptions ++= Seq("--release", "17"),
    libraryDependencies ++= Seq(
      "org.apache.spark" %% "spark-sql" % sparkVersion % Provided,
      "com.typesafe" % "config" % "1.4.3",
      "org.scalatest" %% "scalatest" % "3.2.19" % Test
    ),
    // The jar reports its own version so the Python side can check it talks to its twin.
    Compile / resourceGenerators += Def.task {
      val out = (Compile / resourceManaged).value / "io" / "github" / "stopstreaming" / "version.properties"
      IO.write(out, s"version=${version.value}\nspark=$sparkVersion\nscala=${scalaBinaryVersion.value}\n")
      Seq(out)
    }.taskValue,
    Test / fork := true,
    Test / parallelExecution := false,
    Test / testForkedParallel := false,
    Test / javaOptions ++= sparkJavaOptions ++ Seq("-Xmx2g", "-Dspark.ui.enabled=false"),
    Test / testOptions += Tests.Argument(TestFrameworks.ScalaTest, "-oD"),
    Test / run / fork := true,
    Test / run / javaOptions ++= sparkJavaOptions,
    // The assembly carries our code and every non-Spark dependency, relocated under our
    // package so it cannot clash with whatever a user's application brings.
    assembly / assemblyJarName := s"${name.value}_${scalaBinaryVersion.value}-${version.value}-assembly.jar",
    assembly / assemblyOption ~= (_.withIncludeScala(false)),
    assembly / assemblyShadeRules := Seq(
      ShadeRule.rename("com.typesafe.config.**" -> "io.github.stopstreaming.shaded.config.@1").inAll
    ),
    // What publishLocal / publishM2 ship is the assembly, with no dependency left in its POM:
    // `spark-submit --packages` then needs nothing beyond this one artifact.
    Compile / packageBin := assembly.value,
    pomPostProcess := { node =>
      import scala.xml.{Elem, Node}
      import scala.xml.transform.{RewriteRule, RuleTransformer}
      new RuleTransformer(new RewriteRule {
        override def transform(n: Node): Seq[Node] = n match {
          case e: Elem if e.label == "dependencies" => Seq.empty
          case other => other
        }
      }).transform(node).head
    },
    assembly / assemblyMergeStrategy := {
      case PathList("META-INF", "MANIFEST.MF") => MergeStrategy.discard
      case PathList("META-INF", xs @ _*) if xs.lastOption.exists(_.endsWith(".SF")) => MergeStrategy.discard
      case "module-info.class" => MergeStrategy.discard
      case x => (assembly / assemblyMergeStrategy).value(x)
    }
  )

// A streaming job to try the plugin with spark-submit; kept out of the plugin's own jar.
lazy val examples = (project in file("examples/scala"))
  .dependsOn(jvm)
  .settings(
    name := s"stopstreaming-examples-spark$sparkMajor",
    publish / skip := true,
    scalacOptions ++= Seq("-deprecation", "-feature", "-release", "17"),
    libraryDependencies += "org.apache.spark" %% "spark-sql" % sparkVersion % Provided,
    Compile / packageBin / artifactPath :=
      (ThisBuild / baseDirectory).value / "target" / "examples" / s"${name.value}_${scalaBinaryVersion.value}.jar"
  )
