-- Docket schema version 1 (postgresql), as created by commit 595ba86; for migration tests.

CREATE TABLE project (
	id SERIAL NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	template VARCHAR(64) NOT NULL, 
	task_json TEXT NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);

CREATE TABLE schema_version (
	version SERIAL NOT NULL, 
	applied_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (version)
);

CREATE TABLE user_account (
	id SERIAL NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	display_name VARCHAR(200) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	password_hash VARCHAR(512), 
	active BOOLEAN NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);

CREATE TABLE item (
	id SERIAL NOT NULL, 
	project_id INTEGER NOT NULL, 
	external_id VARCHAR(200) NOT NULL, 
	fields_json TEXT NOT NULL, 
	model VARCHAR(200), 
	group_name VARCHAR(200), 
	metadata_json TEXT, 
	content_hash VARCHAR(64) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_item_project_external UNIQUE (project_id, external_id), 
	FOREIGN KEY(project_id) REFERENCES project (id) ON DELETE CASCADE
);

CREATE TABLE judge (
	id SERIAL NOT NULL, 
	project_id INTEGER NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_judge_project_name UNIQUE (project_id, name), 
	FOREIGN KEY(project_id) REFERENCES project (id) ON DELETE CASCADE
);

CREATE TABLE annotation (
	id SERIAL NOT NULL, 
	item_id INTEGER NOT NULL, 
	user_id INTEGER NOT NULL, 
	dimension VARCHAR(64) NOT NULL, 
	label VARCHAR(200) NOT NULL, 
	comment TEXT, 
	confidence FLOAT, 
	blind BOOLEAN, 
	source VARCHAR(16) NOT NULL, 
	revision INTEGER NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_annotation UNIQUE (item_id, user_id, dimension), 
	FOREIGN KEY(item_id) REFERENCES item (id) ON DELETE CASCADE, 
	FOREIGN KEY(user_id) REFERENCES user_account (id) ON DELETE CASCADE
);

CREATE INDEX ix_annotation_user_item ON annotation (user_id, item_id);

CREATE TABLE audit_log (
	id SERIAL NOT NULL, 
	at TIMESTAMP WITH TIME ZONE NOT NULL, 
	actor_id INTEGER, 
	action VARCHAR(32) NOT NULL, 
	item_id INTEGER, 
	subject_id INTEGER, 
	dimension VARCHAR(64), 
	old_value TEXT, 
	new_value TEXT, 
	reason TEXT, 
	PRIMARY KEY (id), 
	FOREIGN KEY(actor_id) REFERENCES user_account (id) ON DELETE SET NULL, 
	FOREIGN KEY(item_id) REFERENCES item (id) ON DELETE CASCADE
);

CREATE INDEX ix_audit_item ON audit_log (item_id);

CREATE TABLE gold (
	id SERIAL NOT NULL, 
	item_id INTEGER NOT NULL, 
	dimension VARCHAR(64) NOT NULL, 
	label VARCHAR(200), 
	reference_answer TEXT, 
	note TEXT, 
	method VARCHAR(32) NOT NULL, 
	decided_by INTEGER, 
	decided_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_gold UNIQUE (item_id, dimension), 
	FOREIGN KEY(item_id) REFERENCES item (id) ON DELETE CASCADE, 
	FOREIGN KEY(decided_by) REFERENCES user_account (id) ON DELETE SET NULL
);

CREATE TABLE verdict (
	id SERIAL NOT NULL, 
	item_id INTEGER NOT NULL, 
	judge_id INTEGER NOT NULL, 
	dimension VARCHAR(64) NOT NULL, 
	sample_index INTEGER NOT NULL, 
	label VARCHAR(200) NOT NULL, 
	rationale TEXT, 
	raw_output TEXT, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_verdict UNIQUE (item_id, judge_id, dimension, sample_index), 
	FOREIGN KEY(item_id) REFERENCES item (id) ON DELETE CASCADE, 
	FOREIGN KEY(judge_id) REFERENCES judge (id) ON DELETE CASCADE
);
