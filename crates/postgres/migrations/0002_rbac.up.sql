-- Roles and permissions, with the three standard roles and thirteen standard
-- permissions of the source system.
CREATE TABLE roles (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text COLLATE "C" NOT NULL UNIQUE,
    description text,
    created_at  timestamptz NOT NULL
);

CREATE TABLE permissions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text COLLATE "C" NOT NULL UNIQUE,
    description text,
    resource    text NOT NULL,
    action      text NOT NULL
);

CREATE TABLE user_roles (
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id bigint NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role_id)
);

CREATE INDEX idx_user_roles_role_id ON user_roles(role_id);

CREATE TABLE role_permissions (
    role_id       bigint NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    permission_id bigint NOT NULL REFERENCES permissions(id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, permission_id)
);

CREATE INDEX idx_role_permissions_permission_id ON role_permissions(permission_id);

INSERT INTO roles (name, description, created_at) VALUES
    ('admin', 'Full system access', now()),
    ('analyst', 'Document and agent access', now()),
    ('viewer', 'Read-only access', now());

INSERT INTO permissions (name, description, resource, action) VALUES
    ('chat:use', 'Use chat functionality', 'chat', 'use'),
    ('documents:create', 'Upload documents', 'documents', 'create'),
    ('documents:read', 'View documents', 'documents', 'read'),
    ('documents:update', 'Modify documents', 'documents', 'update'),
    ('documents:delete', 'Delete documents', 'documents', 'delete'),
    ('agents:execute', 'Execute agents', 'agents', 'execute'),
    ('agents:read', 'View agent logs', 'agents', 'read'),
    ('explain:view', 'View explainability data', 'explain', 'view'),
    ('metering:read', 'View token usage', 'metering', 'read'),
    ('admin:full', 'Full administrative access', 'admin', 'full'),
    ('users:manage', 'Manage user accounts', 'users', 'manage'),
    ('roles:manage', 'Manage roles and permissions', 'roles', 'manage'),
    ('system:config', 'Modify system configuration', 'system', 'config');

INSERT INTO role_permissions (role_id, permission_id)
    SELECT r.id, p.id FROM roles r, permissions p WHERE r.name = 'admin';

INSERT INTO role_permissions (role_id, permission_id)
    SELECT r.id, p.id FROM roles r, permissions p
    WHERE r.name = 'analyst' AND p.name IN (
        'chat:use', 'documents:create', 'documents:read', 'documents:update',
        'documents:delete', 'agents:execute', 'agents:read', 'explain:view',
        'metering:read');

INSERT INTO role_permissions (role_id, permission_id)
    SELECT r.id, p.id FROM roles r, permissions p
    WHERE r.name = 'viewer' AND p.name IN ('chat:use', 'documents:read', 'explain:view');
