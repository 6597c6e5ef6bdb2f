/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `bigdata` (
  `id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `value` mediumblob NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `config` (
  `name` varbinary(255) NOT NULL,
  `value` varbinary(255) DEFAULT NULL,
  PRIMARY KEY (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
INSERT INTO `config` VALUES (0x6E616D65,0x757073747265616D);
INSERT INTO `config` VALUES (0x6E6964,0x31);
INSERT INTO `config` VALUES (0x70746964,0x31);
INSERT INTO `config` VALUES (0x7265706C69636173,0x31);
INSERT INTO `config` VALUES (0x76657273696F6E,0x34);
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `data` (
  `id` bigint(20) unsigned NOT NULL,
  `hash` binary(20) NOT NULL,
  `compression` tinyint(3) unsigned DEFAULT NULL,
  `value` mediumblob NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
INSERT INTO `data` VALUES (0,0x7A5E5CF0F5A079E986A7896952BBA5627F4612C6,0,0x757073747265616D206F626A65637420322C207265766973696F6E2031);
INSERT INTO `data` VALUES (281474976710656,0x2E099333A2453A726E53ACCB47CAB8C0BFEAB055,0,0x757073747265616D20726F6F742C207265766973696F6E2031);
INSERT INTO `data` VALUES (281474976710657,0x504721C14E021C5D7F25BC25400F6D774247EF03,1,0x789CEDC13101000000C2A0DE4B6F0A3FA00000000080B701B6314F58);
INSERT INTO `data` VALUES (281474976710658,0x87C7152C004807F3EAB51EE4F31EC6C6361BC68A,0,0x757073747265616D20726F6F742C207265766973696F6E2032);
INSERT INTO `data` VALUES (562949953421312,0x0BB354C6D76F9C3C801911F98B24CDA5DB7D4FCA,0,0x757073747265616D206F626A65637420312C207265766973696F6E2031);
INSERT INTO `data` VALUES (562949953421313,0x4C03D6CD0AA21BB6E8C039A313C2C9F9F6D56047,0,0x757073747265616D206F626A65637420312C207265766973696F6E2032);
INSERT INTO `data` VALUES (562949953421314,0x9A6FBD6C5922CC9B572B6229E2141ECD1040DAF8,0,0x757073747265616D206F626A65637420342C207265766973696F6E2031);
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `obj` (
  `partition` smallint(5) unsigned NOT NULL,
  `oid` bigint(20) unsigned NOT NULL,
  `tid` bigint(20) unsigned NOT NULL,
  `data_id` bigint(20) unsigned DEFAULT NULL,
  `value_tid` bigint(20) unsigned DEFAULT NULL,
  PRIMARY KEY (`partition`,`oid`,`tid`),
  KEY `tid` (`partition`,`tid`,`oid`),
  KEY `data_id` (`data_id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
INSERT INTO `obj` VALUES (0,3,292016798716907502,0,NULL);
INSERT INTO `obj` VALUES (1,1,292016798715843003,281474976710656,NULL);
INSERT INTO `obj` VALUES (1,1,292016798717564142,281474976710658,NULL);
INSERT INTO `obj` VALUES (1,4,292016798716907502,281474976710657,NULL);
INSERT INTO `obj` VALUES (2,2,292016798715843003,562949953421312,NULL);
INSERT INTO `obj` VALUES (2,2,292016798716907502,562949953421313,NULL);
INSERT INTO `obj` VALUES (2,5,292016798717564142,562949953421314,NULL);
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `pack` (
  `tid` bigint(20) unsigned NOT NULL,
  `approved` tinyint(1) DEFAULT NULL,
  `partial` tinyint(1) NOT NULL,
  `oids` mediumblob DEFAULT NULL,
  `pack_tid` bigint(20) unsigned DEFAULT NULL,
  PRIMARY KEY (`tid`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `pt` (
  `partition` smallint(5) unsigned NOT NULL,
  `nid` int(11) NOT NULL,
  `tid` bigint(20) NOT NULL,
  `pack` bigint(20) unsigned DEFAULT NULL,
  PRIMARY KEY (`partition`,`nid`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
INSERT INTO `pt` VALUES (0,1,-1,0);
INSERT INTO `pt` VALUES (0,2,-1,NULL);
INSERT INTO `pt` VALUES (1,1,-1,0);
INSERT INTO `pt` VALUES (1,2,-1,NULL);
INSERT INTO `pt` VALUES (2,1,-1,0);
INSERT INTO `pt` VALUES (2,2,-1,NULL);
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `tobj` (
  `partition` smallint(5) unsigned NOT NULL,
  `oid` bigint(20) unsigned NOT NULL,
  `tid` bigint(20) unsigned NOT NULL,
  `data_id` bigint(20) unsigned DEFAULT NULL,
  `value_tid` bigint(20) unsigned DEFAULT NULL,
  PRIMARY KEY (`tid`,`oid`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `todel` (
  `data_id` bigint(20) unsigned NOT NULL,
  PRIMARY KEY (`data_id`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `trans` (
  `partition` smallint(5) unsigned NOT NULL,
  `tid` bigint(20) unsigned NOT NULL,
  `packed` tinyint(1) NOT NULL,
  `oids` mediumblob NOT NULL,
  `user` blob NOT NULL,
  `description` blob NOT NULL,
  `ext` blob NOT NULL,
  `ttid` bigint(20) unsigned NOT NULL,
  PRIMARY KEY (`partition`,`tid`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
INSERT INTO `trans` VALUES (0,292016798715843003,0,0x00000000000000010000000000000002,0x616C696365,0x6669727374,'',292016798714138436);
INSERT INTO `trans` VALUES (0,292016798716907502,0,0x000000000000000200000000000000030000000000000004,0x626F62,0x7365636F6E642C2077697468206120636F6D707265737369626C652076616C7565,'',292016798716203639);
INSERT INTO `trans` VALUES (0,292016798717564142,0,0x00000000000000010000000000000005,0x6361726F6C,0x7468697264,'',292016798717177565);
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `ttrans` (
  `partition` smallint(5) unsigned NOT NULL,
  `tid` bigint(20) unsigned DEFAULT NULL,
  `packed` tinyint(1) NOT NULL,
  `oids` mediumblob NOT NULL,
  `user` blob NOT NULL,
  `description` blob NOT NULL,
  `ext` blob NOT NULL,
  `ttid` bigint(20) unsigned NOT NULL,
  PRIMARY KEY (`ttid`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci;
/*!40101 SET character_set_client = @saved_cs_client */;
