// The pure parts of the SSH agent install (infra/ssh/agent_install.h): what the layout probe's
// output means, the requirement check, and the config file and systemd unit written to a host.
#include <gtest/gtest.h>

#include "infra/ssh/agent_install.h"

namespace axion::infra::ssh {
namespace {

namespace v1 = axion::v1;

TEST(AgentLayout, RootWithSystemdGetsAUnitOthersASupervisedProcessInTheirHome) {
  auto root = parse_layout(
      "UID=0\nHOME=/root\nARCH=x86_64\nKERNEL=Linux\nSYSTEMD=1\n"
      "DISK_KB=2097152\n");
  ASSERT_TRUE(root.ok()) << root.status().to_string();
  EXPECT_TRUE(root->root);
  EXPECT_TRUE(root->systemd);
  EXPECT_EQ(root->base, "/opt/axion-agent");
  EXPECT_EQ(root->binary(), "/opt/axion-agent/bin/axion-agent");
  EXPECT_EQ(root->disk_free_mb, 2048u);
  EXPECT_NE(root->describe().find("systemd unit axion-agent.service"), std::string::npos);

  auto user = parse_layout(
      "UID=4242\nHOME=/home/deploy\nARCH=x86_64\nKERNEL=Linux\nSYSTEMD=1\n"
      "DISK_KB=1024\n");
  ASSERT_TRUE(user.ok());
  EXPECT_FALSE(user->systemd);  // only root may install a system unit
  EXPECT_EQ(user->base, "/home/deploy/.axion-agent");
  EXPECT_EQ(user->pid_file(), "/home/deploy/.axion-agent/agent.pid");
  EXPECT_NE(user->describe().find("supervised process"), std::string::npos);

  auto no_systemd = parse_layout("UID=0\nHOME=/root\nARCH=aarch64\nKERNEL=Linux\nSYSTEMD=0\n");
  ASSERT_TRUE(no_systemd.ok());
  EXPECT_FALSE(no_systemd->systemd);
  EXPECT_EQ(no_systemd->disk_free_mb, 0u);
}

TEST(AgentLayout, AHomeThatIsNotAPlainPathOrAMissingAnswerIsRefused) {
  for (const std::string home : {"/home/a b", "/home/$(id)", "relative", "/home/../etc"}) {
    auto l = parse_layout("UID=1000\nHOME=" + home + "\nARCH=x86_64\nKERNEL=Linux\n");
    ASSERT_FALSE(l.ok()) << home;
    EXPECT_EQ(l.status().code(), StatusCode::kInvalidArgument) << home;
  }
  EXPECT_FALSE(parse_layout("HOME=/root\n").ok());
  EXPECT_FALSE(parse_layout("").ok());
}

TEST(CheckRequirements, NamesEveryProblemAtOnce) {
  auto l =
      parse_layout("UID=0\nHOME=/root\nARCH=x86_64\nKERNEL=Linux\nSYSTEMD=0\nDISK_KB=1048576\n");
  ASSERT_TRUE(l.ok());
  const StepReport fine = check_requirements(*l, "x86_64", 60u << 20);
  EXPECT_TRUE(fine.ok()) << fine.reason;
  EXPECT_NE(fine.detail.find("1024 MiB free"), std::string::npos) << fine.detail;

  l->kernel = "FreeBSD";
  l->disk_free_mb = 100;
  const StepReport bad = check_requirements(*l, "aarch64", 60u << 20);
  EXPECT_EQ(bad.outcome, v1::INSTALL_STEP_OUTCOME_FAILED);
  EXPECT_NE(bad.reason.find("FreeBSD, not Linux"), std::string::npos) << bad.reason;
  EXPECT_NE(bad.reason.find("built for aarch64"), std::string::npos) << bad.reason;
  EXPECT_NE(bad.reason.find("100 MiB free"), std::string::npos) << bad.reason;
  EXPECT_NE(bad.reason.find("124 MiB needed"), std::string::npos) << bad.reason;
}

TEST(AgentFiles, TheConfigNamesItsFilesAndTheUnitRunsTheBinaryWithIt) {
  auto l = parse_layout("UID=0\nHOME=/root\nARCH=x86_64\nKERNEL=Linux\nSYSTEMD=1\n");
  ASSERT_TRUE(l.ok());
  const std::string plain = render_agent_config(*l, {"10.0.0.1:50052", "srv-1", false}).value();
  EXPECT_NE(plain.find("server = \"10.0.0.1:50052\"\n"), std::string::npos) << plain;
  EXPECT_NE(plain.find("server-id = \"srv-1\"\n"), std::string::npos);
  EXPECT_NE(plain.find("token-file = \"/opt/axion-agent/registration-token\"\n"),
            std::string::npos);
  EXPECT_NE(plain.find("state-dir = \"/opt/axion-agent/state\"\n"), std::string::npos);
  EXPECT_EQ(plain.find("tls-ca"), std::string::npos);
  const std::string tls = render_agent_config(*l, {"cp.example:50052", "srv-1", true}).value();
  EXPECT_NE(tls.find("tls-ca = \"/opt/axion-agent/ca.pem\"\n"), std::string::npos) << tls;
  // What the agent's config reader cannot carry is refused, never written half-right.
  for (const std::string odd : {"a\"b:1", "a\\b:1", "a#b:1", "a\nb:1"}) {
    const auto refused = render_agent_config(*l, {odd, "srv-1", false});
    ASSERT_FALSE(refused.ok()) << odd;
    EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  }

  const std::string unit = render_systemd_unit(*l);
  EXPECT_NE(unit.find("ExecStart=/opt/axion-agent/bin/axion-agent --config "
                      "/opt/axion-agent/agent.conf\n"),
            std::string::npos)
      << unit;
  EXPECT_NE(unit.find("Restart=always"), std::string::npos);
  EXPECT_NE(unit.find("WantedBy=multi-user.target"), std::string::npos);
}

}  // namespace
}  // namespace axion::infra::ssh
